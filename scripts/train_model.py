import time

# Taken before any other import, so the start-up time the job reports includes them.
process_start = time.time()

from beatvae.logs import redirect_to_log  # noqa: E402

with redirect_to_log(snakemake.log[0]):
    from beatvae.training import train_variant

    params = snakemake.params
    summary = train_variant(
        {"model": params.model, "hparams": params.hparams, "training": params.training},
        params.converter,
        snakemake.input.windows[0],
        params.checkpoint_dir,
        snakemake.output[0],
        threads=snakemake.threads,
        process_start=process_start,
        validation_windows=snakemake.input.validation[0],
        name=snakemake.wildcards.variant,
        # What the config asked for (a profile may add a GPU request on its own; that is not checked).
        init_from=snakemake.input.init_from[0] if snakemake.input.init_from else None,
        gpus=snakemake.config["variants"][snakemake.wildcards.variant]["resources"]["gpus"],
    )
    print(f"trained to step {summary['steps']} ({summary['steps_this_run']} this run); exported {summary['exported']}")
