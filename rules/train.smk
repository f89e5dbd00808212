rule train_model:
    input:
        windows=variant_windows("train"),
    output:
        directory("results/models/{variant}"),
    log:
        "results/logs/train_model/{variant}.log",
    benchmark:
        "results/benchmarks/train_model/{variant}.tsv"
    conda:
        "../envs/magenta.yaml"
    threads: lambda wc: config["variants"][wc.variant]["resources"]["threads"]
    resources:
        gpu=variant_setting("resources", "gpus"),
        mem_mb=variant_setting("resources", "mem_mb"),
        runtime=variant_setting("resources", "runtime_min"),
    params:
        settings=training_settings,
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
