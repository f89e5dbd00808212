from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.generation import interpolate_variant

    generation = snakemake.params.generation
    # snakemake.input is a list of paths: `in` alone would look for a path, not an input name.
    if "files" in snakemake.input.keys():  # noqa: SIM118
        # The workflow resolved the endpoint files (settings.endpoint_files) and checked they exist:
        # read exactly those.
        first, last = snakemake.input.files
        endpoints = dict(generation["interpolation"]["endpoints"], first=first, last=last)
        generation = dict(generation, interpolation=dict(generation["interpolation"], endpoints=endpoints))
    interpolate_variant(
        snakemake.input.model,
        generation,
        snakemake.output.midi,
        snakemake.output.steps,
        latents_path=snakemake.input.get("latents"),
        metadata_path=snakemake.input.get("metadata"),
        gmd_dir=snakemake.input.get("gmd"),
    )
