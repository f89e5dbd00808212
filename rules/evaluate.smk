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
    wildcard_constraints:
        variant=any_of(BEAT_VARIANTS),
    conda:
        "../envs/magenta.yaml"
    # The variant's own threads, as its training: with the default's one each, the beat and groove
    # evaluations run side by side on 2 cores instead of one after the other.
    threads: lookup(dpath="variants/{variant}/resources/threads", within=config)
    params:
        splits=EVALUATION_SPLITS,
        evaluation=lookup(dpath="evaluation", within=config),
    script:
        "../scripts/evaluate_model.py"


rule compare_variants:
    input:
        expand(rules.evaluate_model.output, variant=BEAT_VARIANTS),
    output:
        comparison=report(
            "results/eval/comparison.tsv",
            caption="../report/comparison.rst",
            category="Evaluation",
        ),
        targets=report(
            "results/eval/targets.tsv",
            caption="../report/targets.rst",
            category="Evaluation",
        ),
    log:
        "results/logs/compare_variants.log",
    conda:
        "../envs/magenta.yaml"
    params:
        variants=BEAT_VARIANTS,
    script:
        "../scripts/compare_variants.py"


# The same job on a groove model: evaluate_model's script chooses by the model's representation.
use rule evaluate_model as evaluate_groove with:
    output:
        "results/eval/groove/{variant}.json",
    log:
        "results/logs/evaluate_groove/{variant}.log",
    benchmark:
        "results/benchmarks/evaluate_groove/{variant}.tsv"
    wildcard_constraints:
        variant=any_of(GROOVE_VARIANTS),


rule compare_grooves:
    input:
        expand(rules.evaluate_groove.output, variant=GROOVE_VARIANTS),
    output:
        report(
            "results/eval/groove.tsv",
            caption="../report/groove.rst",
            category="Evaluation",
        ),
    log:
        "results/logs/compare_grooves.log",
    conda:
        "../envs/magenta.yaml"
    params:
        variants=GROOVE_VARIANTS,
    script:
        "../scripts/compare_grooves.py"
