from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from beatvae.render import render_audio, wav_stats

    for midi, wav in zip(snakemake.input, snakemake.output):
        render_audio(midi, wav, snakemake.params.soundfont, snakemake.params.sample_rate)
        print(wav, wav_stats(wav))
