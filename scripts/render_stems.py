from beatvae.logs import exit_on_sigterm, redirect_to_log

with redirect_to_log(snakemake.log[0]), exit_on_sigterm():
    from pathlib import Path

    from beatvae.render import check_audio_tools, render_stems
    from beatvae.settings import DRUM_CLASS_NAMES

    params = snakemake.params
    check_audio_tools(params.soundfont)
    for midi, name in zip(snakemake.input, params.names, strict=True):
        stems = [Path(snakemake.output[0], name, f"{drum}.wav") for drum in DRUM_CLASS_NAMES]
        render_stems(midi, stems, params.soundfont, params.sample_rate, params.loop, params.fade_ms)
        print(f"{midi}: {len(stems)} stems in {stems[0].parent}", flush=True)
