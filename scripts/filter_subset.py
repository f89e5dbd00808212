from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    import pandas as pd

    from beatvae.subsets import filter_subset

    metadata = pd.read_parquet(snakemake.input[0])
    subset = filter_subset(metadata, snakemake.wildcards.subset, snakemake.params.filters)
    subset.to_parquet(snakemake.output[0], index=False)
    print(subset.groupby("split").size().to_string())
