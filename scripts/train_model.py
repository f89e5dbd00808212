import time

process_start = time.time()

from beatvae.logs import redirect_to_log  # noqa: E402
from beatvae.training import train_variant  # noqa: E402

with redirect_to_log(snakemake.log[0]):
    summary = train_variant(
        snakemake.params.settings,
        snakemake.params.converter,
        snakemake.input.windows,
        snakemake.params.checkpoint_dir,
        snakemake.output[0],
        threads=snakemake.threads,
        process_start=process_start,
    )
    print(f"trained to step {summary['steps']} ({summary['steps_this_run']} this run)")
