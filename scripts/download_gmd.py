from pathlib import Path

from beatvae.logs import exit_on_sigterm, redirect_to_log

with redirect_to_log(snakemake.log[0]), exit_on_sigterm():
    from beatvae.download import download_verified, resolve_url

    # A bare path in gmd.url is relative to the workflow folder (this script's parent's parent).
    url = resolve_url(snakemake.params.url, Path(__file__).resolve().parents[1])
    print(f"fetching {url}")
    digest = download_verified(url, snakemake.params.sha256, snakemake.output[0])
    print(f"sha256 {digest} verified -> {snakemake.output[0]}")
