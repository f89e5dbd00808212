import os
import re
import sys

from snakemake.utils import min_version, validate

# beatvae.settings is standard-library only, so planning needs nothing but Snakemake.
sys.path.insert(0, f"{workflow.basedir}/src")
from beatvae.settings import SPLITS, check_variant

min_version("9.0")

# Magenta is TF1-style code on tf-keras; jobs (local or on a cluster node) inherit these.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Jobs import the beatvae package from src/ whether or not it is installed (conda envs, clusters).
os.environ.update(PYTHONPATH=f"{workflow.basedir}/src")


validate(config, schema="../config/schema.yaml", set_default=True)

SPLITS = list(SPLITS)
SUBSETS = list(config["subsets"])
VARIANTS = list(config["variants"])


wildcard_constraints:
    subset="|".join(map(re.escape, SUBSETS)) if SUBSETS else "$^",
    variant="|".join(map(re.escape, VARIANTS)) if VARIANTS else "$^",
    split="|".join(SPLITS),


for _name, _variant in config["variants"].items():
    if _variant["subset"] not in config["subsets"]:
        raise ValueError(
            f"variant {_name!r} names subset {_variant['subset']!r}, which is not declared "
            f"under `subsets` (declared: {SUBSETS})"
        )
    check_variant(_name, _variant, config["converter"])


def gmd_url():
    from beatvae.download import resolve_url

    return resolve_url(config["gmd"]["url"], workflow.basedir)


def variant_setting(*keys):
    """Params function: a section of the variant's config (only it reruns the job when edited)."""

    def lookup(wildcards):
        value = config["variants"][wildcards.variant]
        for key in keys:
            value = value[key]
        return value

    return lookup


def variant_windows(*splits):
    """Input function: the variant's subset's window files for `splits`."""

    def paths(wildcards):
        subset = config["variants"][wildcards.variant]["subset"]
        return [f"results/tensors/{subset}/{split}.npz" for split in splits]

    return paths


def training_settings(wildcards):
    variant = config["variants"][wildcards.variant]
    return {key: variant[key] for key in ("model", "hparams", "training")}


SAMPLE_NAMES = [f"sample_{i:02d}" for i in range(config["generation"]["num_samples"])]
INTERPOLATION_STEPS = [
    f"step_{i:02d}" for i in range(config["generation"]["interpolation"]["num_steps"])
]


def interpolation_inputs(wildcards):
    endpoints = config["generation"]["interpolation"]["endpoints"]
    inputs = {"model": f"results/models/{wildcards.variant}"}
    if endpoints["source"] == "samples":
        inputs["latents"] = f"results/samples/{wildcards.variant}/latents.npy"
    elif endpoints["source"] == "dataset":
        inputs["metadata"] = "results/metadata/gmd.parquet"
        inputs["gmd"] = "results/gmd"
    else:
        inputs["files"] = [endpoints["first"], endpoints["last"]]
    return inputs


RENDERED_NAMES = [*SAMPLE_NAMES, "interpolation"]


def generated_midi(wildcards):
    """Every MIDI a variant generates: its samples, then its interpolation."""
    return [
        *expand(f"results/samples/{wildcards.variant}/{{name}}.mid", name=SAMPLE_NAMES),
        f"results/interpolations/{wildcards.variant}/interpolation.mid",
    ]


def rendered(folder, extension):
    return expand(
        f"results/{folder}/{{variant}}/{{name}}.{extension}",
        variant=VARIANTS,
        name=RENDERED_NAMES,
    )


def all_targets():
    targets = [
        "results/metadata/gmd.parquet",
        "results/eval/comparison.tsv",
        *expand("results/losses/{variant}.{ext}", variant=VARIANTS, ext=["csv", "png"]),
        *render_targets(),  # rules/render.smk
    ]
    return targets


if config["audio"]["enabled"]:
    from beatvae.render import check_audio_tools

    check_audio_tools(config["audio"]["soundfont"])
