from beatvae.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    import json

    from beatvae.evaluation import evaluate_groove

    report = evaluate_groove(
        snakemake.input.model,
        dict(zip(snakemake.params.splits, snakemake.input.held_out, strict=True)),
        snakemake.input.train[0],
        snakemake.params.evaluation,
    )
    with open(snakemake.output[0], "w") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report["targets"], indent=2))
