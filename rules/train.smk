rule train_model:
    input:
        windows=variant_windows("train"),
        # Validated every training.validate_every_steps; the best checkpoint is exported.
        validation=variant_windows("validation"),
    output:
        directory("results/models/{variant}"),
    log:
        "results/logs/train_model/{variant}.log",
    benchmark:
        "results/benchmarks/train_model/{variant}.tsv"
    conda:
        "../envs/magenta.yaml"
    threads: lookup(dpath="variants/{variant}/resources/threads", within=config)
    resources:
        gpu=lookup(dpath="variants/{variant}/resources/gpus", within=config),
        mem_mb=lookup(dpath="variants/{variant}/resources/mem_mb", within=config),
        runtime=lookup(dpath="variants/{variant}/resources/runtime_min", within=config),
    params:
        model=lookup(dpath="variants/{variant}/model", within=config),
        hparams=lookup(dpath="variants/{variant}/hparams", within=config),
        training=lookup(dpath="variants/{variant}/training", within=config),
        converter=config["converter"],
        # Outside Snakemake's outputs on purpose: a failed or killed job keeps its checkpoints.
        checkpoint_dir=lambda wc: f"results/checkpoints/{wc.variant}",
    script:
        "../scripts/train_model.py"


rule plot_losses:
    input:
        rules.train_model.output,
    output:
        csv=report(
            "results/losses/{variant}.csv",
            caption="../report/losses_table.rst",
            category="Training",
            subcategory="{variant}",
        ),
        png=report(
            "results/losses/{variant}.png",
            caption="../report/losses_plot.rst",
            category="Training",
            subcategory="{variant}",
        ),
    log:
        "results/logs/plot_losses/{variant}.log",
    conda:
        "../envs/magenta.yaml"
    script:
        "../scripts/plot_losses.py"
