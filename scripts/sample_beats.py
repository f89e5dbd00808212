from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.generation import generate_samples
    from beatvae.model import TrainedModelDir

    model = TrainedModelDir.load(snakemake.input[0])
    generate_samples(model, snakemake.params.generation, snakemake.output.midi, snakemake.output.latents)
    print(f"wrote {len(snakemake.output.midi)} samples")
