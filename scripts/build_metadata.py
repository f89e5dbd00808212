from beatvae.logs import redirect_to_log

# build_metadata's worker processes (spawned) import this file again, without `snakemake`.
if __name__ == "__main__":
    with redirect_to_log(snakemake.log[0]):
        from beatvae.metadata import build_metadata, find_gmd_root

        metadata, rejects = build_metadata(
            find_gmd_root(snakemake.input[0]),
            workers=snakemake.threads,
            note_sequences_path=snakemake.output.note_sequences,
        )
        metadata.to_parquet(snakemake.output.metadata, index=False)
        rejects.to_csv(snakemake.output.rejects, sep="\t", index=False)
        print(f"{len(metadata)} files described and parsed over {snakemake.threads} processes, {len(rejects)} rejected")
        for row in rejects.itertuples():
            print(f"rejected {row.path}: {row.reason}")
