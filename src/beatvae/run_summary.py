"""The lines a workflow run ends with: its wall time and how fast each variant trained.

Standard library only: the Snakefile's `onsuccess:` handler imports it while Snakemake runs.
A recipe is budgeted in steps and minutes (`training.max_minutes`), and machines of one kind differ by
a third in speed, so the run says its own steps/s and where a time limit cut the steps short: the
figures to compare with the budget (README, *The default run*).
"""

import json
import os
import time
from collections.abc import Iterable

from beatvae.settings import TRAINING_SUMMARY_FILE


def duration(seconds: float) -> str:
    """`1h 02m 03s`, `12m 03s` or `45s`."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def training_line(variant: str, model_dir: str, run_started: float) -> str | None:
    """One variant's training speed from its model folder's training.json; None without one.

    A model exported before this run started was not trained by it: the line says so, with the
    speed it was trained at then.
    """
    path = os.path.join(model_dir, TRAINING_SUMMARY_FILE)
    try:
        with open(path) as handle:
            summary = json.load(handle)
        exported_at = os.path.getmtime(path)
    except (OSError, ValueError):
        return None
    steps, seconds = summary.get("steps_this_run", 0), summary.get("train_seconds_this_run", 0)
    if not steps or not seconds:
        speed = f"{summary.get('steps', 0):,} steps, none trained in its last run"
    else:
        speed = f"{steps:,} steps in {duration(seconds)}, {steps / seconds:.2f} steps/s (validation included)"
        if summary.get("stopped_at_time_limit"):
            limit = summary.get("variant", {}).get("training", {}).get("max_minutes")
            speed += f", stopped at its time limit ({limit:g} min) at step {summary['steps']:,}"
    when = "" if exported_at >= run_started else " [trained before this run]"
    return f"  {variant}: {speed}{when}"


def closing_lines(run_started: float, variants: Iterable[str], models: str = "results/models") -> list[str]:
    """The run's wall time, then one training line per variant that has a model."""
    lines = [f"beatvae: this run took {duration(time.time() - run_started)} (wall time)"]
    trained = [training_line(v, os.path.join(models, v), run_started) for v in variants]
    if any(trained):
        lines.append("training speed per variant (compare with the recipe's budget in README, The default run):")
        lines += [line for line in trained if line]
    return lines
