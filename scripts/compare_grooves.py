from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    import json

    import pandas as pd

    from beatvae.comparison import groove_row

    rows = []
    for name, path in zip(snakemake.params.variants, snakemake.input, strict=True):
        with open(path) as handle:
            rows.append(groove_row(name, json.load(handle)))
    table = pd.DataFrame(rows)
    table.to_csv(snakemake.output[0], sep="\t", index=False, float_format="%.4g")
    print(table.to_string())
