import time

# Taken before any other import, so the start-up time the job reports includes them.
process_start = time.time()

from beatvae.logs import redirect_to_log  # noqa: E402

with redirect_to_log(snakemake.log[0]):
    from beatvae.training import TrainingRun, train_variant

    params = snakemake.params
    run = TrainingRun(
        variant={"model": params.model, "hparams": params.hparams, "training": params.training},
        representation=params.representation,
        train_windows=snakemake.input.windows[0],
        checkpoint_dir=params.checkpoint_dir,
        model_dir=snakemake.output[0],
        validation_windows=snakemake.input.validation[0],
        # What the config asked for (a profile may add a GPU request on its own; that is not checked).
        init_from=snakemake.input.init_from[0] if snakemake.input.init_from else None,
        name=snakemake.wildcards.variant,
        threads=snakemake.threads,
        gpus=snakemake.config["variants"][snakemake.wildcards.variant]["resources"]["gpus"],
        process_start=process_start,
    )
    summary = train_variant(run)
    print(f"trained to step {summary['steps']} ({summary['steps_this_run']} this run); exported {summary['exported']}")
