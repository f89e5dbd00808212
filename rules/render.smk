# Looking at and listening to what each variant generates: piano rolls, loopable audio (plus
# stems and OGG copies on request) and one HTML page that plays it all. Their input functions
# live in rules/common.smk.


rule plot_piano_rolls:
    input:
        midi=generated_midi,
    output:
        report(
            expand(
                "results/pianorolls/{{variant}}/{name}.png",
                name=RENDERED_NAMES,
            ),
            caption="../report/pianoroll.rst",
            category="Piano rolls",
            subcategory="{variant}",
        ),
    log:
        "results/logs/plot_piano_rolls/{variant}.log",
    conda:
        "../envs/magenta.yaml"
    params:
        segment_bars=lambda wc: {"interpolation": segment_bars(wc.variant)},
    script:
        "../scripts/plot_piano_rolls.py"


# How a MIDI file sounds (render_audio, render_stems and, by reuse, render_humanized_audio):
# one place, so a loop and its stems always come from the same settings.
RENDER_SETTINGS = {
    key: lookup(dpath=f"audio/{key}", within=config)
    for key in ("soundfont", "sample_rate", "loop", "fade_ms")
}


# Not in Snakemake's report: its viewer cannot play audio, and WAVs made it 80+ MB.
rule render_audio:
    input:
        generated_midi,
    output:
        loops=expand("results/audio/{{variant}}/{name}.wav", name=RENDERED_NAMES),
        with_tail=(
            expand(
                "results/audio/{{variant}}/{name}.with_tail.wav", name=RENDERED_NAMES
            )
            if AUDIO["with_tail"]
            else []
        ),
    log:
        "results/logs/render_audio/{variant}.log",
    benchmark:
        "results/benchmarks/render_audio/{variant}.tsv"
    conda:
        "../envs/magenta.yaml"
    params:
        **RENDER_SETTINGS,
    script:
        "../scripts/render_audio.py"


# One folder per variant, {name}/{drum class}.wav inside: the job knows Magenta's drum classes.
rule render_stems:
    input:
        generated_midi,
    output:
        directory("results/stems/{variant}"),
    log:
        "results/logs/render_stems/{variant}.log",
    conda:
        "../envs/magenta.yaml"
    params:
        **RENDER_SETTINGS,
        names=RENDERED_NAMES,
    script:
        "../scripts/render_stems.py"


rule encode_audio:
    input:
        expand("results/audio/{{variant}}/{name}.wav", name=RENDERED_NAMES),
    output:
        expand("results/audio/{{variant}}/{name}.ogg", name=RENDERED_NAMES),
    log:
        "results/logs/encode_audio/{variant}.log",
    conda:
        "../envs/magenta.yaml"
    params:
        quality=lookup(dpath="audio/ogg_quality", within=config),
    script:
        "../scripts/encode_audio.py"


# Text typed into the config (variants' descriptions) reaches the page through this file, never
# through a report rule's params: Snakemake's report embeds those in a <script> unescaped, so markup
# in a description would run in the browser of whoever opens a shared report (issue 19 item 3).
rule describe_variants:
    output:
        "results/report/descriptions.json",
    log:
        "results/logs/describe_variants.log",
    conda:
        "../envs/magenta.yaml"
    params:
        descriptions={
            variant: variant_description(variant) for variant in BEAT_VARIANTS
        },
        # The style each variant plays (its subset's description), named in its heading.
        styles={
            variant: config["subsets"][config["variants"][variant]["subset"]][
                "description"
            ]
            for variant in BEAT_VARIANTS
        },
        endpoints=INTERPOLATION["endpoints"],
    script:
        "../scripts/describe_variants.py"


# A trained model in the format @magenta/music loads, for the page's beat explorer.
rule export_browser_model:
    input:
        model=lambda wildcards: trained_model(wildcards.variant),
    output:
        directory("results/browser/{variant}"),
    log:
        "results/logs/export_browser_model/{variant}.log",
    wildcard_constraints:
        variant=any_of(BROWSER_VARIANTS),
    conda:
        "../envs/magenta.yaml"
    script:
        "../scripts/export_browser_model.py"


rule build_report_page:
    input:
        unpack(report_page_inputs),
        descriptions=rules.describe_variants.output[0],
    output:
        page=report(
            "results/report/beats.html",
            caption="../report/beats.rst",
            category="Listen",
        ),
        # The page without its audio: small enough for the single-file report to show.
        single_file=report(
            "results/report/beats-without-audio.html",
            caption="../report/beats_without_audio.rst",
            category="Listen",
        ),
    log:
        "results/logs/build_report_page.log",
    conda:
        "../envs/magenta.yaml"
    params:
        entries=report_page_entries(),
        # Numbers only (the page states them): endpoint paths and ids are typed text.
        generation={
            key: GENERATION[key]
            for key in ("num_samples", "temperature", "seed", "qpm")
        },
        segment_bars={variant: segment_bars(variant) for variant in BEAT_VARIANTS},
        held_out=held_out_windows(),
        # The beat explorer's models, in the order of input.browser, the one that humanizes, and
        # the variants it explores, in the order of input.latents.
        explorer={
            "models": BROWSER_VARIANTS,
            "groove": EXPLORER_GROOVE,
            "explored": EXPLORED_VARIANTS,
        },
    script:
        "../scripts/build_report_page.py"
