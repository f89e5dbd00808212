from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.generation import interpolate_variant

    interpolate_variant(
        snakemake.input.model,
        snakemake.params.generation,
        snakemake.output.midi,
        snakemake.output.steps,
        latents_path=snakemake.input.get("latents"),
        metadata_path=snakemake.input.get("metadata"),
        gmd_dir=snakemake.input.get("gmd"),
        workflow_dir=snakemake.params.workflow_dir,
    )
