from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.report_page import PageTexts, write_page_texts

    params = snakemake.params
    texts = PageTexts(params.descriptions, params.styles, params.endpoints)
    path = write_page_texts(texts, snakemake.output[0])
    print(f"{len(texts.descriptions)} variant descriptions and styles, the interpolation's endpoints -> {path}")
