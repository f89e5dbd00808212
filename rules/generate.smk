rule sample_beats:
    input:
        "results/models/{variant}",
    output:
        midi=expand("results/samples/{{variant}}/{name}.mid", name=SAMPLE_NAMES),
        latents="results/samples/{variant}/latents.npy",
    log:
        "results/logs/sample_beats/{variant}.log",
    benchmark:
        "results/benchmarks/sample_beats/{variant}.tsv"
    conda:
        "../envs/magenta.yaml"
    params:
        generation={
            key: config["generation"][key]
            for key in ("num_samples", "temperature", "seed", "qpm")
        },
    script:
        "../scripts/sample_beats.py"


rule interpolate_beats:
    input:
        unpack(interpolation_inputs),
    output:
        midi="results/interpolations/{variant}/interpolation.mid",
        steps=expand(
            "results/interpolations/{{variant}}/{step}.mid", step=INTERPOLATION_STEPS
        ),
    log:
        "results/logs/interpolate_beats/{variant}.log",
    benchmark:
        "results/benchmarks/interpolate_beats/{variant}.tsv"
    conda:
        "../envs/magenta.yaml"
    params:
        generation=config["generation"],
        workflow_dir=workflow.basedir,
    script:
        "../scripts/interpolate_beats.py"
