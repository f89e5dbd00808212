from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.browser_model import export

    exported = export(snakemake.input.model, snakemake.output[0])
    print(f"{snakemake.output[0]}: {len(exported['weights'])} weights, {exported['bytes']:,} bytes", flush=True)
