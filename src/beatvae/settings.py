"""Decisions about settings that the workflow (while planning) and the jobs both make.

Standard library only: the Snakefile imports this module at parse time, where nothing but
Snakemake may be installed (a SLURM login node, `snakemake --use-conda -n`). Anything that
needs TensorFlow, Magenta or pandas belongs in the stage modules instead.
"""

from __future__ import annotations

import math
from typing import Mapping

SPLITS = ("train", "validation", "test")

# Magenta's reduced drum map (drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES): kick, snare,
# closed hi-hat, open hi-hat, low/mid/high tom, crash, ride. A frame is one of 2**9 classes.
NUM_DRUM_CLASSES = 9

# The sections of a variant that the trained weights depend on (with the converter and the
# training data); resource requests and descriptions are not among them.
TRAINING_KEYS = ("model", "hparams", "training")


class SettingsError(ValueError):
    """A config value that cannot work; the message names its key."""


def window_steps(converter: Mapping) -> int:
    """Length in steps of one converter window (the model's max_seq_len)."""
    return converter["steps_per_quarter"] * converter["quarters_per_bar"] * converter["slice_bars"]


def check_variant(name: str, variant: Mapping, converter: Mapping) -> None:
    """Raises SettingsError, naming the key, for a model shape the converter's windows cannot take."""
    steps = window_steps(converter)
    level_lengths = variant.get("model", {}).get("level_lengths")
    if level_lengths and math.prod(level_lengths) != steps:
        raise SettingsError(
            f"variants.{name}.model.level_lengths {list(level_lengths)} multiply to "
            f"{math.prod(level_lengths)}, but a window is {steps} steps "
            f"(converter: steps_per_quarter x quarters_per_bar x slice_bars)"
        )


def model_hparams(variant: Mapping, converter: Mapping) -> dict:
    """The variant's hparams with the window length derived from the converter (said once)."""
    return dict(variant["hparams"], max_seq_len=window_steps(converter))
