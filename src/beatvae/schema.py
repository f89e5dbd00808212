"""The config's schema, config/schema.yaml: the one place of every default.

Snakemake fills the defaults in while planning (validate(..., set_default=True)), so jobs get whole
sections; callers outside Snakemake (tests, bench scripts) read them here.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"


@functools.cache
def _schema() -> dict:
    if not SCHEMA_PATH.is_file():
        raise FileNotFoundError(f"{SCHEMA_PATH} not found: the config's defaults live there")
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_defaults(key: str) -> dict:
    """{setting: default} of a config section named by its dotted key (`evaluation.targets`); a
    fresh dict each call."""
    return {name: copy.deepcopy(entry["default"]) for name, entry in _entry(key)["properties"].items()}


def setting_schema(key: str) -> dict:
    """The schema entry of one setting named by its dotted key (`generation.num_samples`): its type,
    bounds and default, for callers that check a value outside Snakemake (the `beatvae` command)."""
    return copy.deepcopy(_entry(key))


def _entry(key: str) -> dict:
    """The schema of the section or setting a dotted key names."""
    entry = _schema()
    for part in key.split("."):
        entry = entry["properties"][part]
    return entry
