from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from pathlib import Path

    from beatvae.report_page import SINGLE_FILE_REPORT_LIMIT, build_report_page, earlier_batches, read_page_texts

    # The page's assets live in the checkout's report/ (this script's parent's parent): found from
    # here rather than through a param, which would hold an absolute path and rerun moved checkouts.
    assets = Path(__file__).resolve().parents[1] / "report"

    params = snakemake.params
    texts = read_page_texts(snakemake.input.descriptions)
    page = {
        "entries": params.entries,
        "midi_paths": snakemake.input.midi,
        "audio_paths": snakemake.input.get("audio"),
        "comparison_tsv": snakemake.input.comparison,
        "assets_dir": assets,
        "variants": texts.descriptions,
        "styles": texts.styles,
        "endpoints": texts.endpoints,
        "generation": params.generation,
        "segment_bars": params.segment_bars,
        "groove_tsv": snakemake.input.get("groove"),
        "held_out": params.held_out,
        "targets_tsv": snakemake.input.get("targets"),
        "losses": {Path(path).stem: path for path in snakemake.input.losses},
        # Not inputs: batches of earlier generation settings, listed as long as they are on disk.
        "earlier": earlier_batches("results", params.entries),
        "explorer": {
            "models": dict(zip(params.explorer["models"], snakemake.input.browser, strict=True)),
            "groove": params.explorer["groove"],
            # The run's samples' latent vectors, so that the explorer lists them as beats.
            "latents": dict(zip(params.explorer["explored"], snakemake.input.latents, strict=True)),
        },
    }
    for batch in page["earlier"]:
        print(f"earlier batch on disk: {batch.variant} {batch.tag}, {len(batch.beats)} beats", flush=True)
    full = build_report_page(out_path=snakemake.output.page, **page)
    print(f"{full}: {full.stat().st_size / 2**20:.1f} MiB", flush=True)
    copy = build_report_page(out_path=snakemake.output.single_file, single_file_copy=True, **page)
    size = copy.stat().st_size
    print(f"{copy} (no audio, for the single-file report): {size / 2**20:.2f} MiB", flush=True)
    if size > SINGLE_FILE_REPORT_LIMIT:
        print(
            f"WARNING: {copy} is over {SINGLE_FILE_REPORT_LIMIT / 2**20:.1f} MiB: Snakemake's single-file report "
            "will show it blank; the .zip report (--report results/report.zip) shows it",
            flush=True,
        )
