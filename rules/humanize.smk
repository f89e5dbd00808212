# Humanizing with a GrooVAE model (issue 14): every generated beat of the variants in
# `humanize.variants` and every file of `humanize.files` comes out with velocities and timing
# offsets learned from GMD drummers; every note stays. The humanized beats get piano rolls and
# audio like the originals (rules/render.smk's scripts), under results/{pianorolls,audio}/humanized/.
# Input functions and targets live in rules/common.smk.

HUMANIZER = f"results/models/{HUMANIZE['model']}"


rule humanize_beats:
    input:
        midi=generated_midi,
        model=HUMANIZER,
    output:
        expand("results/humanized/{{variant}}/{name}.mid", name=RENDERED_NAMES),
    log:
        "results/logs/humanize_beats/{variant}.log",
    benchmark:
        "results/benchmarks/humanize_beats/{variant}.tsv"
    wildcard_constraints:
        variant=any_of(HUMANIZED_VARIANTS),
    conda:
        "../envs/magenta.yaml"
    params:
        temperature=lookup(dpath="humanize/temperature", within=config),
        seed=lookup(dpath="generation/seed", within=config),
    script:
        "../scripts/humanize_midi.py"


# One job per file: adding a file to `humanize.files` humanizes just that one.
rule humanize_files:
    input:
        midi=lambda wc: HUMANIZED_FILES[wc.stem],
        model=HUMANIZER,
    output:
        "results/humanized/files/{stem}.mid",
    log:
        "results/logs/humanize_files/{stem}.log",
    wildcard_constraints:
        stem=any_of(HUMANIZED_FILES),
    conda:
        "../envs/magenta.yaml"
    params:
        temperature=lookup(dpath="humanize/temperature", within=config),
        seed=lookup(dpath="generation/seed", within=config),
    script:
        "../scripts/humanize_midi.py"


rule plot_humanized_piano_rolls:
    input:
        midi=rules.humanize_beats.output,
    output:
        report(
            expand(
                "results/pianorolls/humanized/{{variant}}/{name}.png",
                name=RENDERED_NAMES,
            ),
            caption="../report/pianoroll.rst",
            category="Piano rolls",
            subcategory="{variant} humanized",
        ),
    log:
        "results/logs/plot_humanized_piano_rolls/{variant}.log",
    wildcard_constraints:
        variant=any_of(HUMANIZED_VARIANTS),
    conda:
        "../envs/magenta.yaml"
    params:
        segment_bars=lambda wc: {"interpolation": segment_bars(wc.variant)},
        label=lambda wc: f"{wc.variant} humanized",
    script:
        "../scripts/plot_piano_rolls.py"


rule render_humanized_audio:
    input:
        rules.humanize_beats.output,
    output:
        loops=expand(
            "results/audio/humanized/{{variant}}/{name}.wav", name=RENDERED_NAMES
        ),
        with_tail=[],
    log:
        "results/logs/render_humanized_audio/{variant}.log",
    benchmark:
        "results/benchmarks/render_humanized_audio/{variant}.tsv"
    wildcard_constraints:
        variant=any_of(HUMANIZED_VARIANTS),
    conda:
        "../envs/magenta.yaml"
    params:
        soundfont=lookup(dpath="audio/soundfont", within=config),
        sample_rate=lookup(dpath="audio/sample_rate", within=config),
        loop=lookup(dpath="audio/loop", within=config),
        fade_ms=lookup(dpath="audio/fade_ms", within=config),
    script:
        "../scripts/render_audio.py"


rule encode_humanized_audio:
    input:
        rules.render_humanized_audio.output.loops,
    output:
        expand("results/audio/humanized/{{variant}}/{name}.ogg", name=RENDERED_NAMES),
    log:
        "results/logs/encode_humanized_audio/{variant}.log",
    wildcard_constraints:
        variant=any_of(HUMANIZED_VARIANTS),
    conda:
        "../envs/magenta.yaml"
    params:
        quality=lookup(dpath="audio/ogg_quality", within=config),
    script:
        "../scripts/encode_audio.py"
