EVALUATION_SPLITS = lookup(dpath="evaluation/splits", within=config)


rule evaluate_model:
    input:
        model=rules.train_model.output[0],
        held_out=variant_windows(*EVALUATION_SPLITS),
        train=variant_windows("train"),
    output:
        "results/eval/{variant}.json",
    log:
        "results/logs/evaluate_model/{variant}.log",
    benchmark:
        "results/benchmarks/evaluate_model/{variant}.tsv"
    conda:
        "../envs/magenta.yaml"
    threads: 2
    params:
        splits=EVALUATION_SPLITS,
        evaluation=lookup(dpath="evaluation", within=config),
    script:
        "../scripts/evaluate_model.py"


rule compare_variants:
    input:
        expand(rules.evaluate_model.output, variant=VARIANTS),
    output:
        report(
            "results/eval/comparison.tsv",
            caption="../report/comparison.rst",
            category="Evaluation",
        ),
    log:
        "results/logs/compare_variants.log",
    conda:
        "../envs/magenta.yaml"
    params:
        variants=VARIANTS,
    script:
        "../scripts/compare_variants.py"


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
        segment_bars={"interpolation": config["converter"]["slice_bars"]},
    script:
        "../scripts/plot_piano_rolls.py"


rule render_audio:
    input:
        generated_midi,
    output:
        report(
            expand(
                "results/audio/{{variant}}/{name}.wav",
                name=RENDERED_NAMES,
            ),
            caption="../report/audio.rst",
            category="Audio",
            subcategory="{variant}",
        ),
    log:
        "results/logs/render_audio/{variant}.log",
    conda:
        "../envs/magenta.yaml"
    params:
        soundfont=config["audio"]["soundfont"],
        sample_rate=config["audio"]["sample_rate"],
    script:
        "../scripts/render_audio.py"
