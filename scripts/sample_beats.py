from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.generation import generate_samples, trained_settings

    settings, converter = trained_settings(snakemake.input[0])
    generate_samples(settings, converter, snakemake.params.generation, snakemake.input[0], snakemake.output.midi, snakemake.output.latents)
    print(f"wrote {len(snakemake.output.midi)} samples")
