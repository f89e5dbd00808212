from beatvae.settings import (
    check_init_from_cycles,
    check_init_from_shapes,
    check_trained_steps,
)

for _name, _variant in config["variants"].items():
    _source = _variant["training"]["init_from"]
    if _source is not None and (_source not in config["variants"] or _source == _name):
        raise ValueError(
            f"variants.{_name}.training.init_from names {_source!r}, which is not another declared "
            f"variant (declared: {VARIANTS})"
        )

# init_from cycles and sources of another model shape fail here, naming the variants and the keys.
check_init_from_cycles(config["variants"])
check_init_from_shapes(config["variants"], REPRESENTATIONS)


rule train_model:
    input:
        windows=variant_windows("train"),
        # Validated every training.validate_every_steps; the best checkpoint is exported.
        validation=variant_windows("validation"),
        # training.init_from: the exported model a fine-tuned variant starts from (none otherwise)
        init_from=lambda wc: [
            source for source in [init_from_model(wc.variant)] if source
        ],
    output:
        directory("results/models/{variant}"),
    log:
        "results/logs/train_model/{variant}.log",
    benchmark:
        "results/benchmarks/train_model/{variant}.tsv"
    priority: lookup(dpath="variants/{variant}/resources/priority", within=config)
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
        representation=lambda wc: representation_of(wc.variant),
        # Outside Snakemake's outputs on purpose: a failed or killed job keeps its checkpoints.
        checkpoint_dir=lambda wc: checkpoint_folder(wc.variant),
    script:
        "../scripts/train_model.py"


# num_steps below the checkpoints the job would resume fails here, before Snakemake removes the
# variant's model folder to rerun it (after the rule: init_from_model names its output).
for _name, _variant in config["variants"].items():
    check_trained_steps(
        _name,
        _variant,
        representation_of(_name),
        checkpoint_folder(_name),
        variant_windows("train")(types.SimpleNamespace(variant=_name))[0],
        init_from_model(_name),
    )


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
