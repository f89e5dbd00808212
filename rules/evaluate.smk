EVALUATION_SPLITS = config["evaluation"]["splits"]


rule evaluate_model:
    input:
        model="results/models/{variant}",
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
        evaluation=config["evaluation"],
        temperature=config["generation"]["temperature"],
    script:
        "../scripts/evaluate_model.py"


rule compare_variants:
    input:
        expand("results/eval/{variant}.json", variant=VARIANTS),
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
