import time

process_start = time.time()

from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.training import train_variant

    summary = train_variant(
        snakemake.params.settings,
        snakemake.params.converter,
        snakemake.input.windows[0],
        snakemake.params.checkpoint_dir,
        snakemake.output[0],
        threads=snakemake.threads,
        process_start=process_start,
    )
    print(f"trained to step {summary['steps']} ({summary['steps_this_run']} this run)")
