# The archive is fully determined by gmd.sha256 (the job checks it), so every workflow that asks for
# the same archive can share one download: `--cache` with SNAKEMAKE_OUTPUT_CACHE set keeps it there,
# keyed by the url, the sha256 and the script, not by the software environment, which cannot change
# the bytes. Declared only under --cache: Snakemake otherwise warns on every run that it could be.
SHARED_DOWNLOAD = (
    "omit-software" if workflow.workflow_settings.cache is not None else False
)


rule download_gmd:
    output:
        "results/download/gmd.zip",
    log:
        "results/logs/download_gmd.log",
    cache: SHARED_DOWNLOAD
    conda:
        "../envs/magenta.yaml"
    params:
        # As written in the config: a path is resolved against the workflow folder by the job,
        # so moving the checkout does not change the params (and rerun everything).
        url=lookup(dpath="gmd/url", within=config),
        sha256=lookup(dpath="gmd/sha256", within=config),
    script:
        "../scripts/download_gmd.py"


rule unpack_gmd:
    input:
        rules.download_gmd.output,
    output:
        directory("results/gmd"),
    log:
        "results/logs/unpack_gmd.log",
    conda:
        "../envs/magenta.yaml"
    script:
        "../scripts/unpack_gmd.py"


rule build_metadata:
    input:
        rules.unpack_gmd.output,
    output:
        metadata="results/metadata/gmd.parquet",
        rejects="results/metadata/rejects.tsv",
        note_sequences="results/metadata/gmd.tfrecord",
    log:
        "results/logs/build_metadata.log",
    benchmark:
        "results/benchmarks/build_metadata.tsv"
    conda:
        "../envs/magenta.yaml"
    threads: 8
    params:
        min_files_per_worker=lookup(dpath="gmd/min_files_per_worker", within=config),
    script:
        "../scripts/build_metadata.py"


rule filter_subset:
    input:
        rules.build_metadata.output.metadata,
    output:
        "results/subsets/{subset}.parquet",
    log:
        "results/logs/filter_subset/{subset}.log",
    conda:
        "../envs/magenta.yaml"
    params:
        filters=lookup(dpath="subsets/{subset}/filters", within=config),
    script:
        "../scripts/filter_subset.py"


rule convert_tfrecord:
    input:
        subset=rules.filter_subset.output[0],
        note_sequences=rules.build_metadata.output.note_sequences,
    output:
        expand("results/tfrecord/{{subset}}/{split}.tfrecord", split=SPLITS),
    log:
        "results/logs/convert_tfrecord/{subset}.log",
    benchmark:
        "results/benchmarks/convert_tfrecord/{subset}.tsv"
    conda:
        "../envs/magenta.yaml"
    params:
        splits=SPLITS,
    script:
        "../scripts/convert_tfrecord.py"


rule tensorize:
    input:
        rules.convert_tfrecord.output,
    output:
        # One file per split, in SPLITS order (variant_windows picks them by split).
        windows=expand(
            "results/tensors/{{subset}}/{{representation}}/{split}.npz", split=SPLITS
        ),
        counts="results/tensors/{subset}/{representation}/windows.json",
    log:
        "results/logs/tensorize/{subset}/{representation}.log",
    benchmark:
        "results/benchmarks/tensorize/{subset}/{representation}.tsv"
    conda:
        "../envs/magenta.yaml"
    params:
        representation=lookup(dpath="representations/{representation}", within=config),
        splits=SPLITS,
    script:
        "../scripts/tensorize.py"
