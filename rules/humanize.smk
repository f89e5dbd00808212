# Humanizing with a GrooVAE model (issue 14): every generated beat of the variants in
# `humanize.variants` and every file of `humanize.files` comes out with velocities and timing
# offsets learned from GMD drummers; every note stays. The humanized beats get piano rolls and
# audio like the originals, under results/{pianorolls,audio}/humanized/: each rule below but the
# first is a rule of rules/render.smk (or humanize_files) used again on other files, so a change to
# how beats are drawn or sound reaches both.
# Input functions and targets live in rules/common.smk.

HUMANIZER = trained_model(HUMANIZE["model"])


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


# A variant's generated beats in one job (the model loaded once), benchmarked like generation.
use rule humanize_files as humanize_beats with:
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


use rule plot_piano_rolls as plot_humanized_piano_rolls with:
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
    params:
        label=lambda wc: f"{wc.variant} humanized",


# Loops only: `audio.with_tail` and `audio.stems` are for the generated beats.
use rule render_audio as render_humanized_audio with:
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


use rule encode_audio as encode_humanized_audio with:
    input:
        rules.render_humanized_audio.output.loops,
    output:
        expand("results/audio/humanized/{{variant}}/{name}.ogg", name=RENDERED_NAMES),
    log:
        "results/logs/encode_humanized_audio/{variant}.log",
    wildcard_constraints:
        variant=any_of(HUMANIZED_VARIANTS),
