from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.download import download_verified

    print(f"fetching {snakemake.params.url}")
    digest = download_verified(snakemake.params.url, snakemake.params.sha256, snakemake.output[0])
    print(f"sha256 {digest} verified -> {snakemake.output[0]}")
