from beatvae.logs import redirect_to_log
from beatvae.render import render_audio, wav_stats

with redirect_to_log(snakemake.log[0]):
    for midi, wav in zip(snakemake.input, snakemake.output):
        render_audio(midi, wav, snakemake.params.soundfont, snakemake.params.sample_rate)
        print(wav, wav_stats(wav))
