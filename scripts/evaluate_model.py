from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    import json

    from beatvae.evaluation import evaluate_model

    report = evaluate_model(
        snakemake.input.model,
        dict(zip(snakemake.params.splits, snakemake.input.held_out, strict=True)),
        snakemake.input.train[0],
        snakemake.params.evaluation,
        threads=snakemake.threads,
    )
    with open(snakemake.output[0], "w") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report.get("targets"), indent=2))
