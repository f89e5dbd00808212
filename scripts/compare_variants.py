from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    import json

    import pandas as pd

    from beatvae.comparison import comparison_row, target_rows

    rows, targets = [], []
    for name, path in zip(snakemake.params.variants, snakemake.input, strict=True):
        with open(path) as handle:
            report = json.load(handle)
        rows.append(comparison_row(name, report))
        targets += target_rows(name, report)
    table = pd.DataFrame(rows)
    table.to_csv(snakemake.output.comparison, sep="\t", index=False, float_format="%.4g")
    pd.DataFrame(targets).to_csv(snakemake.output.targets, sep="\t", index=False, float_format="%.4g")
    print(table.to_string())
