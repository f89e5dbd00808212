import os
import re

from snakemake.utils import min_version, validate

min_version("9.0")

# Magenta is TF1-style code on tf-keras; jobs (local or on a cluster node) inherit these.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (f"{workflow.basedir}/src", os.environ.get("PYTHONPATH")) if p
)


validate(config, schema="../config/schema.yaml", set_default=True)

SPLITS = ["train", "validation", "test"]
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


def gmd_url():
    from beatvae.download import resolve_url

    return resolve_url(config["gmd"]["url"], workflow.basedir)


def all_targets():
    return [
        "results/metadata/gmd.parquet",
        *expand("results/tensors/{subset}/{split}.npz", subset=SUBSETS, split=SPLITS),
    ]
