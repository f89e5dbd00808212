from beatvae.logs import exit_on_sigterm, redirect_to_log

with redirect_to_log(snakemake.log[0]), exit_on_sigterm():
    from beatvae.download import download_verified

    print(f"fetching {snakemake.params.url}")
    digest = download_verified(snakemake.params.url, snakemake.params.sha256, snakemake.output[0])
    print(f"sha256 {digest} verified -> {snakemake.output[0]}")
