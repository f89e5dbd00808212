from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.humanize import humanize_midi_files

    humanize_midi_files(
        snakemake.input.model,
        snakemake.input.midi if isinstance(snakemake.input.midi, list) else [snakemake.input.midi],
        list(snakemake.output),
        snakemake.params.temperature,
        snakemake.params.seed,
    )
