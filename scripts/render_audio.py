from beatvae.logs import exit_on_sigterm, redirect_to_log

with redirect_to_log(snakemake.log[0]), exit_on_sigterm():
    from beatvae.render import check_audio_tools, render_loop, wav_stats

    params = snakemake.params
    check_audio_tools(params.soundfont)
    tails = snakemake.output.with_tail or [None] * len(snakemake.output.loops)
    for midi, wav, tail in zip(snakemake.input, snakemake.output.loops, tails, strict=True):
        lengths = render_loop(midi, wav, params.soundfont, params.sample_rate, params.loop, params.fade_ms, tail)
        print(wav, lengths, wav_stats(wav), flush=True)
