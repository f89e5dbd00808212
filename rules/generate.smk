rule sample_beats:
    input:
        rules.train_model.output,
    output:
        midi=expand(
            "results/samples/{{variant}}/{tag}/{name}.mid",
            tag=SAMPLES_TAG,
            name=SAMPLE_NAMES,
        ),
        latents=f"results/samples/{{variant}}/{SAMPLES_TAG}/latents.npy",
    log:
        f"results/logs/sample_beats/{{variant}}/{SAMPLES_TAG}.log",
    benchmark:
        f"results/benchmarks/sample_beats/{{variant}}/{SAMPLES_TAG}.tsv"
    conda:
        "../envs/magenta.yaml"
    params:
        generation={
            key: GENERATION[key]
            for key in ("num_samples", "temperature", "seed", "qpm")
        },
    script:
        "../scripts/sample_beats.py"


rule interpolate_beats:
    input:
        unpack(interpolation_inputs),
        model=rules.train_model.output[0],
    output:
        midi=f"results/interpolations/{{variant}}/{INTERPOLATION_TAG}/interpolation.mid",
        steps=expand(
            "results/interpolations/{{variant}}/{tag}/{step}.mid",
            tag=INTERPOLATION_TAG,
            step=INTERPOLATION_STEPS,
        ),
    log:
        f"results/logs/interpolate_beats/{{variant}}/{INTERPOLATION_TAG}.log",
    benchmark:
        f"results/benchmarks/interpolate_beats/{{variant}}/{INTERPOLATION_TAG}.tsv"
    conda:
        "../envs/magenta.yaml"
    params:
        generation=GENERATION,
    script:
        "../scripts/interpolate_beats.py"
