"""The evaluation's tables over variants, from their reports (results/eval/*.json): one row per beat
variant (comparison.tsv), per quality target (targets.tsv) and per groove variant (groove.tsv).

Plain dicts in, plain rows out: no model and no TensorFlow."""

from __future__ import annotations

from collections.abc import Mapping


def comparison_row(variant: str, report: Mapping) -> dict:
    """One line of the comparison table over variants: the targets (met or not, realism first), the
    realism figures beside held-out real windows, then reconstruction, statistics and memorization."""
    row = {"variant": variant}
    row.update(target_columns(report.get("targets")))
    row.update(realism_columns(report.get("realism")))
    row.update(training_columns(report.get("training")))
    for split, modes in report["reconstruction"].items():
        for mode, values in modes.items():
            if values.get("windows"):
                row[f"{split}_{mode}_accuracy"] = values["accuracy"]
        if modes["teacher_forced"].get("windows"):
            row[f"{split}_kl_bits"] = modes["teacher_forced"]["kl_bits"]
            row[f"{split}_elbo"] = modes["teacher_forced"]["elbo"]
    samples = report["samples"]
    distance = samples["distance_to_held_out"]
    baseline = report.get("real_baseline") or {}
    real = samples.get("held_out_statistics") or {}
    row["sample_distance"] = distance["overall"] if distance else float("nan")
    row["baseline_distance"] = baseline.get("distance", float("nan"))
    row["sample_notes_per_bar"] = samples["statistics"]["notes_per_bar"]
    row["real_notes_per_bar"] = real.get("notes_per_bar", float("nan"))
    row["exact_copies"] = report["memorization"]["exact_copies"]
    row["mean_nearest_hamming"] = report["memorization"]["mean_hamming"]
    row["median_nearest_hamming"] = report["memorization"].get("median_hamming", float("nan"))
    row["real_median_nearest_hamming"] = baseline.get("nearest_hamming", {}).get("median", float("nan"))
    row["warnings"] = "; ".join(report.get("warnings", []))
    return row


REFERENCE_ONLY_NOTE = "reference run only"
MET_TEXT = {True: "met", False: "not met", None: "not evaluated"}


def target_columns(targets: Mapping | None) -> dict:
    """A table row's columns for a report's targets: `targets_met` all / not all (of the counted
    ones), then `target_<name>` met / not met / not evaluated, with "(reference run only)" for a
    target not counted (`counted: False`); none without targets."""
    if not targets:
        return {}
    columns = {"targets_met": "all" if targets["all_met"] else "not all"}
    for name, target in targets.items():
        if isinstance(target, dict):
            state = MET_TEXT[target["met"]]
            counted = target.get("counted", True) or target["met"] is None
            columns[f"target_{name}"] = state if counted else f"{state} ({REFERENCE_ONLY_NOTE})"
    return columns


def realism_columns(realism: Mapping | None) -> dict:
    """The realism figures of a report as table columns: two-sample accuracy beside its floor, and
    each structure figure of the samples beside the held-out real windows'."""
    if not realism:
        return {}
    nan = float("nan")
    two_sample = realism["two_sample"]
    columns = {
        "two_sample_accuracy": nan if two_sample["accuracy"] is None else two_sample["accuracy"],
        "two_sample_floor": nan if two_sample["floor"] is None else two_sample["floor"],
    }
    figures = realism["structure"]
    for name in figures["definitions"]:
        columns[f"sample_{name}"] = figures["samples"][name]
        columns[f"real_{name}"] = figures["held_out"][name]
    return columns


def _threshold_text(target: Mapping) -> str:
    threshold, comparison = target["threshold"], target.get("comparison", "")
    if threshold is None:
        return ""
    if isinstance(threshold, list | tuple):
        return f"{threshold[0]:.3g} to {threshold[1]:.3g}"
    if comparison.startswith("classes within"):
        return f"all {threshold} {comparison}"
    return f"{comparison} {threshold:.3g}"


def target_rows(variant: str, report: Mapping) -> list[dict]:
    """One row per target of a report, realism first: met, whether it counts in "targets met", value,
    threshold, the real figure it is judged against (held-out real windows; the two-sample test's
    floor; the feature distance's real-vs-real baseline) and the training windows' own."""
    targets = report.get("targets") or {}
    rows = []
    for name, target in targets.items():
        if not isinstance(target, dict):
            continue
        real = target.get("real", target.get("floor", target.get("baseline")))
        rows.append(
            {
                "variant": variant,
                "target": name,
                "met": MET_TEXT[target["met"]],
                "counts": "yes" if target.get("counted", True) else f"no: {REFERENCE_ONLY_NOTE}",
                "value": target["value"],
                "threshold": _threshold_text(target),
                "real_or_floor": real,
                "train": target.get("train"),
            }
        )
    return rows


def groove_row(variant: str, report: Mapping) -> dict:
    """One line of the groove table: the model beside both baselines on all held-out windows."""
    row = {"variant": variant}
    held_out = report.get("held_out")
    if not held_out:
        row.update(training_columns(report.get("training")))
        row["warnings"] = "; ".join(report.get("warnings", [])) or "no held-out windows"
        return row
    row["windows"] = held_out["windows"]
    for metric in ("velocity_mae", "timing_mae_ms"):
        for who in ("model", "constant", "position_mean"):
            row[f"{metric}_{who}"] = held_out[who][metric]
    row["hit_f1"] = held_out["model"]["hits"]["f1"]
    row["hit_cell_accuracy"] = held_out["model"]["hits"]["cell_accuracy"]
    row.update(target_columns(report["targets"]))
    row.update(training_columns(report.get("training")))
    row["warnings"] = "; ".join(report.get("warnings", []))
    return row


def training_columns(training: Mapping | None) -> dict:
    """How far the model trained (evaluation.training_facts); none for reports written before."""
    if not training:
        return {}
    return {
        "trained_steps": training["steps"],
        "exported_step": training["exported_step"],
        "stopped_at_time_limit": "yes" if training["stopped_at_time_limit"] else "no",
    }
