from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from pathlib import Path

    from beatvae.render import plot_piano_roll

    # The humanize rules name their beats "<variant> humanized".
    label = snakemake.params.get("label", snakemake.wildcards.variant)
    for midi, png in zip(snakemake.input.midi, snakemake.output, strict=True):
        plot_piano_roll(
            midi,
            png,
            title=f"{label}: {Path(midi).stem}",
            highlight_segments=snakemake.params.segment_bars.get(Path(midi).stem),
        )
