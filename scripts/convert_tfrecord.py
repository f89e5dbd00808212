from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    import pandas as pd
    from beatvae.dataset import write_note_sequences
    from beatvae.metadata import find_gmd_root

    subset = pd.read_parquet(snakemake.input.subset)
    gmd_root = find_gmd_root(snakemake.input.gmd)
    for split, tfrecord in zip(snakemake.params.splits, snakemake.output):
        paths = subset.loc[subset["split"] == split, "path"]
        count = write_note_sequences(gmd_root, paths, tfrecord)
        print(f"{split}: {count} NoteSequences -> {tfrecord}")
