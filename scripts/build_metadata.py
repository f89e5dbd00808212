from beatvae.logs import exit_on_sigterm, redirect_to_log

# build_metadata's worker processes (spawned) import this file again, without `snakemake`.
if __name__ == "__main__":
    with redirect_to_log(snakemake.log[0]), exit_on_sigterm():
        from beatvae.metadata import build_metadata, find_gmd_root

        metadata, rejects = build_metadata(
            find_gmd_root(snakemake.input[0]),
            workers=snakemake.threads,
            note_sequences_path=snakemake.output.note_sequences,
            min_files_per_worker=snakemake.params.min_files_per_worker,
        )
        metadata.to_parquet(snakemake.output.metadata, index=False)
        rejects.to_csv(snakemake.output.rejects, sep="\t", index=False)
        print(f"{len(metadata)} files described, {len(rejects)} rejected (up to {snakemake.threads} parsing processes)")
        for row in rejects.itertuples():
            print(f"rejected {row.path}: {row.reason}")
