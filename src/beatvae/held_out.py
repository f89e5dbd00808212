"""Held-out splits left without windows (a subset whose validation or test files give the converter
nothing): what that costs the variants trained on it, said where a user looks, on the console at the
end of the run and on the report page, not only in the tensorize, training and evaluation logs.

Standard library only: the workflow's `onsuccess:` handler calls it in the Snakemake process, where
nothing but Snakemake may be installed. The counts are the tensorize job's windows.json.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

HELD_OUT_SPLITS = ("validation", "test")

# What an empty split means for the variants trained on the subset (beatvae.training: no validator;
# beatvae.evaluation: no metrics on that split; evaluation targets need held-out windows).
CONSEQUENCES = {
    "validation": (
        "trained without validation (the last checkpoint is exported, no early stopping) and evaluated "
        "without validation figures (nor the free-running accuracy target, measured on validation)"
    ),
    "test": "evaluated without test figures",
}
NO_HELD_OUT = (
    "no held-out windows at all: their samples and grooves are compared with no real playing, "
    "and no quality target is evaluated"
)


def describe_split(split: str, summary: Mapping) -> str:
    """e.g. "12 train files, 0 windows (files without a window: 12 in 3/4, not 4/4)", from a split's
    entry of windows.json (dataset.WindowCount.summary)."""
    text = f"{summary['files']} {split} files, {summary['windows']} windows"
    reasons = summary.get("why") or {}
    if reasons:
        text += " (files without a window: " + "; ".join(f"{n} {reason}" for reason, n in reasons.items()) + ")"
    return text


@dataclass(frozen=True)
class EmptySplit:
    """A held-out split of one subset's windows (of one representation) with no window."""

    subset: str
    representation: str
    split: str
    counted: str  # describe_split's text: files, windows and why
    variants: tuple[str, ...]  # trained (and evaluated) on these windows
    no_held_out: bool  # the subset's other held-out split is empty too

    def named_variants(self) -> str:
        """e.g. "Variant tiny" or "Variants v1, v2"."""
        return f"Variant{'s' if len(self.variants) > 1 else ''} {', '.join(self.variants)}"

    def consequence(self) -> str:
        return CONSEQUENCES[self.split] + (f"; {NO_HELD_OUT}" if self.no_held_out else "")

    def describe(self) -> str:
        return (
            f"subset {self.subset!r} ({self.representation}) has no {self.split} windows: {self.counted}. "
            f"{self.named_variants()}: {self.consequence()}."
        )


def empty_held_out_splits(trained_on: Mapping[str, Mapping]) -> list[EmptySplit]:
    """The empty held-out splits of the windows each variant was trained on.

    `trained_on`: {variant: {"subset", "representation", "counts": that windows.json}}. Counts not
    made (yet, or by this run's targets) are skipped.
    """
    by_counts: dict[str, list[str]] = {}
    for variant, where in trained_on.items():
        by_counts.setdefault(str(where["counts"]), []).append(variant)
    found = []
    for counts_path, variants in by_counts.items():
        if not os.path.isfile(counts_path):
            continue
        with open(counts_path, encoding="utf-8") as handle:
            counts = json.load(handle)
        where = trained_on[variants[0]]
        empty = [split for split in HELD_OUT_SPLITS if split in counts and not counts[split]["windows"]]
        for split in empty:
            found.append(
                EmptySplit(
                    subset=where["subset"],
                    representation=where["representation"],
                    split=split,
                    counted=describe_split(split, counts[split]),
                    variants=tuple(variants),
                    no_held_out=len(empty) == len(HELD_OUT_SPLITS),
                )
            )
    return found


def print_empty_held_out_splits(trained_on: Mapping[str, Mapping], stream=None) -> list[EmptySplit]:
    """Says each empty held-out split on the console (stderr, beside Snakemake's own messages)."""
    found = empty_held_out_splits(trained_on)
    for empty in found:
        print(f"WARNING: held-out split without windows: {empty.describe()}", file=stream or sys.stderr)
    return found
