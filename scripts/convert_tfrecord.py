from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    import pandas as pd

    from beatvae.dataset import select_note_sequences

    subset = pd.read_parquet(snakemake.input.subset)
    for split, tfrecord in zip(snakemake.params.splits, snakemake.output, strict=True):
        paths = subset.loc[subset["split"] == split, "path"]
        count = select_note_sequences(snakemake.input.note_sequences, paths, tfrecord)
        print(f"{split}: {count} NoteSequences -> {tfrecord}")
