from beatvae.logs import exit_on_sigterm, redirect_to_log

with redirect_to_log(snakemake.log[0]), exit_on_sigterm():
    import json

    from beatvae.dataset import (
        WindowCount,
        check_window_counts,
        make_converter,
        split_sequences,
        windows_from_note_sequences,
    )
    from beatvae.settings import window_steps

    representation = snakemake.params.representation
    converter = make_converter(representation)
    steps = window_steps(representation)
    counts = {}
    if representation.get("drop_training_ghost_notes_below"):
        below = representation["drop_training_ghost_notes_below"]
        print(f"train: snare hits softer than velocity {below} are left out (drop_training_ghost_notes_below)")
    for split, tfrecord, npz in zip(snakemake.params.splits, snakemake.input, snakemake.output.windows, strict=True):
        counts[split] = WindowCount(representation)
        windows = windows_from_note_sequences(
            split_sequences(tfrecord, split, representation), converter, steps, counts[split]
        )
        windows.save(npz)
        print(f"{split}: {counts[split].describe(split)} -> {npz}")
        for reason, files in counts[split].without_windows.items():
            print(f"  no window ({reason}): {', '.join(files)}")
    with open(snakemake.output.counts, "w") as handle:
        json.dump({split: count.summary() for split, count in counts.items()}, handle, indent=2)
    check_window_counts(snakemake.wildcards.subset, counts)
