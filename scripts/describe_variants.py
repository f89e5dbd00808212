from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.report_page import write_descriptions

    path = write_descriptions(snakemake.params.descriptions, snakemake.output[0])
    print(f"{len(snakemake.params.descriptions)} variant descriptions -> {path}")
