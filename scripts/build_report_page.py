from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.report_page import build_report_page

    params = snakemake.params
    page = build_report_page(
        params.entries,
        snakemake.input.midi,
        snakemake.input.get("audio"),
        snakemake.input.comparison,
        snakemake.output[0],
        params.assets,
        variants=params.variants,
        generation=params.generation,
        segment_bars=params.segment_bars,
    )
    print(f"{page}: {page.stat().st_size / 2**20:.1f} MiB", flush=True)
