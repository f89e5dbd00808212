from beatvae.logs import exit_on_sigterm, redirect_to_log

with redirect_to_log(snakemake.log[0]), exit_on_sigterm():
    from pathlib import Path

    from beatvae.render import check_audio_tools, encode_ogg

    check_audio_tools(commands=("oggenc",))
    for wav, ogg in zip(snakemake.input, snakemake.output, strict=True):
        encode_ogg(wav, ogg, snakemake.params.quality)
        print(f"{ogg}: {Path(ogg).stat().st_size / 1024:.0f} KiB", flush=True)
