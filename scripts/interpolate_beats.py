from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.generation import interpolate_variant

    # The config as it is; the endpoints' inputs by name, as the rule gives them for their source.
    interpolate_variant(
        snakemake.input.model,
        snakemake.params.generation,
        snakemake.output.midi,
        snakemake.output.steps,
        dict(snakemake.input.items()),
    )
