from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.dataset import make_drums_converter, read_note_sequences, windows_from_note_sequences
    from beatvae.settings import window_steps

    converter = make_drums_converter(snakemake.params.converter)
    steps = window_steps(snakemake.params.converter)
    for tfrecord, npz in zip(snakemake.input, snakemake.output):
        windows = windows_from_note_sequences(read_note_sequences(tfrecord), converter, steps)
        windows.save(npz)
        print(f"{tfrecord}: {len(windows)} unique windows -> {npz}")
