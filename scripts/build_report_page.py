from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from pathlib import Path

    from beatvae.report_page import build_report_page, read_descriptions

    # The page's assets live in the checkout's report/ (this script's parent's parent): found from
    # here rather than through a param, which would hold an absolute path and rerun moved checkouts.
    assets = Path(__file__).resolve().parents[1] / "report"

    params = snakemake.params
    page = build_report_page(
        params.entries,
        snakemake.input.midi,
        snakemake.input.get("audio"),
        snakemake.input.comparison,
        snakemake.output[0],
        assets,
        variants=read_descriptions(snakemake.input.descriptions),
        generation=params.generation,
        segment_bars=params.segment_bars,
        groove_tsv=snakemake.input.get("groove"),
        held_out=params.held_out,
        targets_tsv=snakemake.input.get("targets"),
    )
    print(f"{page}: {page.stat().st_size / 2**20:.1f} MiB", flush=True)
