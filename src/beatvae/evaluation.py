"""Held-out metrics of trained models, with Magenta's own loss and metric ops: reconstruction and samples
of drum-class variants, and humanizing (velocity, timing) of groove variants."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from beatvae import magenta_env
from beatvae.dataset import Windows
from beatvae.groove import HITS, OFFSETS, VELOCITIES, humanize_windows, humanizer_batch_size, step_milliseconds
from beatvae.metrics import DRUM_CLASS_NAMES, quality_targets
from beatvae.model import TrainedModelDir, sample_latents
from beatvae.settings import NUM_DRUM_CLASSES, is_groove, window_steps
from beatvae.tfgraph import DECODING_MODES, ReconstructionGraph

log = logging.getLogger(__name__)


def reconstruction_metrics(
    model: TrainedModelDir, windows: Windows, max_batch_size: int, mode: str, seed: int, threads=None
) -> dict:
    """Mean loss, reconstruction loss, KL, ELBO and accuracy over `windows` for one decoding mode."""
    if len(windows) == 0:
        return {"windows": 0}
    graph = ReconstructionGraph(magenta_env.tensorflow_v1(), model.config, windows, max_batch_size, mode, seed, threads)
    return graph.measure(model.checkpoint)


def evaluate_splits(
    model: TrainedModelDir, splits: Mapping[str, Windows], max_batch_size: int, seed: int, threads=None
) -> dict:
    """{split: {mode: metrics}} for every held-out split."""
    results = {}
    for split, windows in splits.items():
        results[split] = {
            mode: reconstruction_metrics(model, windows, max_batch_size, mode, seed, threads) for mode in DECODING_MODES
        }
    return results


def sample_rolls(
    model: TrainedModelDir, num_samples: int, temperature: float, seed: int, num_classes: int = NUM_DRUM_CLASSES
) -> np.ndarray:
    """bool [n, steps, classes] drum rolls of `num_samples` fresh samples (no MIDI round trip)."""
    trained = model.trained_model(batch_size=min(num_samples, 64), seed=seed)
    z = sample_latents(num_samples, model.z_size, seed)
    outputs = trained.decode_to_tensors(z, length=window_steps(model.converter), temperature=temperature)
    labels = np.argmax(np.asarray(outputs), axis=-1)
    return ((labels[..., None] >> np.arange(num_classes)) & 1).astype(bool)


def evaluate_variant(
    model_dir, split_paths: Mapping[str, str], train_path: str, evaluation: Mapping, temperature: float, threads=None
) -> dict:
    """Held-out reconstruction, sample statistics against held-out playing, memorization, and the
    item-4 quality targets, each generated-vs-real figure beside its real-vs-real baseline."""
    model = TrainedModelDir.load(model_dir)
    seed = evaluation["seed"]
    splits = {split: Windows.load(path) for split, path in split_paths.items()}
    warnings = [
        f"the {split} split has no windows: no held-out metrics on it" for split, w in splits.items() if not len(w)
    ]
    for warning in warnings:
        log.warning(warning)
    report = {"reconstruction": evaluate_splits(model, splits, evaluation["batch_size"], seed, threads)}
    samples = sample_rolls(model, evaluation["num_samples"], temperature, seed)
    held_out = [windows.drum_rolls() for windows in splits.values()]
    real = np.concatenate(held_out) if held_out else np.zeros((0,) + samples.shape[1:], bool)
    # Each window's performance, so that the two-sample test keeps a performance's windows in one fold.
    real_groups = np.concatenate([windows.sources for windows in splits.values()]) if held_out else None
    train_windows = Windows.load(train_path)
    train = train_windows.drum_rolls()
    report.update(sample_report(samples, real, train, temperature, seed, real_groups, train_windows.sources))
    validation = report["reconstruction"].get("validation", {}).get("free_running", {})
    if report["real_baseline"] is not None:
        accuracy = validation.get("accuracy") if validation.get("windows") else None
        report["targets"] = report_targets(report, accuracy, evaluation.get("targets"))
    report["warnings"] = warnings
    return report


def report_targets(report: Mapping, free_running_accuracy: float | None, limits: Mapping | None = None) -> dict:
    """The quality targets of a report that has `sample_report`'s figures (None: accuracy not evaluated)."""
    return quality_targets(
        report["samples"]["statistics"],
        report["samples"]["distance_to_held_out"]["overall"],
        report["memorization"]["nearest_hamming"],
        report["real_baseline"],
        free_running_accuracy,
        limits,
        report["realism"],
    )


def sample_report(
    samples: np.ndarray,
    real: np.ndarray,
    train: np.ndarray,
    temperature: float,
    seed: int,
    real_groups=None,
    train_groups=None,
) -> dict:
    """Realism (`realism.realism_report`) and sample statistics against held-out real windows
    (`real`), memorization against the training windows, and the real-vs-real baseline (held-out vs
    training windows) for each figure. `*_groups`: each window's performance (`Windows.sources`)."""
    from beatvae.metrics import distribution_distance, nearest_training_windows, real_baseline, sample_statistics
    from beatvae.realism import realism_report

    baseline = real_baseline(real, train, len(samples), seed) if len(real) else None
    realism = realism_report(samples, train, real, train_groups, real_groups, seed) if len(real) else None
    nearest = nearest_training_windows(samples, train)
    cells = samples.shape[1] * samples.shape[2]
    return {
        "realism": realism,
        "samples": {
            "count": len(samples),
            "temperature": temperature,
            "statistics": sample_statistics(samples),
            "held_out_statistics": baseline["statistics"] if baseline else None,
            "train_statistics": baseline["train_statistics"] if baseline else None,
            "distance_to_held_out": distribution_distance(samples, real) if len(real) else None,
        },
        "memorization": {
            "exact_copies": int(np.sum(nearest.distance == 0)),
            "min_hamming": int(nearest.distance.min()),
            "median_hamming": float(np.median(nearest.distance)),
            "mean_hamming": float(nearest.distance.mean()),
            "mean_hamming_fraction": float(nearest.distance.mean() / cells),
            "nearest_training_index": nearest.index.tolist(),
            "nearest_hamming": nearest.distance.tolist(),
        },
        "real_baseline": baseline,
    }


def comparison_row(variant: str, report: Mapping) -> dict:
    """One line of the comparison table over variants: the targets (met or not, realism first), the
    realism figures beside held-out real windows, then reconstruction, statistics and memorization."""
    row = {"variant": variant}
    row.update(target_columns(report.get("targets")))
    row.update(realism_columns(report.get("realism")))
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


# Groove (GrooVAE humanize) evaluation: the quantized version of each held-out window is humanized
# and compared with what the drummer played. Values are in Magenta's GrooveConverter layout
# (beatvae.groove: hits, velocities / 127, offsets of 2x a step's fraction played early).

HIT_THRESHOLD = 0.5  # a model's hit value (sampled 0/1) above this is a hit
GROOVE_METRICS = {
    "hits": (
        "cell_accuracy: share of (step, drum class) cells whose hit/no-hit agrees with the drummer's; "
        "precision, recall, f1: of the model's hits against the drummer's (most cells are empty, so "
        "cell accuracy alone flatters)"
    ),
    "velocity_mae": "mean absolute velocity error in MIDI units (0-127) over the drummer's hits",
    "timing_mae_ms": "mean absolute onset error in milliseconds over the drummer's hits (each window at its own tempo)",
    "timing_ms": "onset minus its grid step in milliseconds: positive = late (behind the beat)",
    "baselines": (
        "constant: every hit at the training hits' mean velocity, on the grid; position_mean: the training "
        "hits' mean velocity and offset per drum class and 16th-note step within the bar"
    ),
}


def groove_step_milliseconds(qpm, steps_per_quarter: int) -> np.ndarray:
    """float64 [N, 1, 1]: each window's grid step in milliseconds, broadcastable over its cells."""
    return step_milliseconds(qpm, steps_per_quarter).reshape(-1, 1, 1)


def timing_milliseconds(offsets: np.ndarray, step_ms: np.ndarray) -> np.ndarray:
    """Onsets relative to their grid step in ms (positive = late) from GrooveConverter offsets."""
    return -np.asarray(offsets, np.float64) / 2 * step_ms


def hit_scores(real_hits: np.ndarray, predicted_hits: np.ndarray) -> dict:
    """Per-cell accuracy, and precision / recall / F1 of the predicted hits against the real ones."""
    real = np.asarray(real_hits) > HIT_THRESHOLD
    predicted = np.asarray(predicted_hits) > HIT_THRESHOLD
    true_positives = int(np.sum(real & predicted))
    precision = true_positives / predicted.sum() if predicted.any() else None
    recall = true_positives / real.sum() if real.any() else None
    f1 = 2 * true_positives / (real.sum() + predicted.sum()) if (real.any() or predicted.any()) else None
    return {
        "cell_accuracy": float(np.mean(real == predicted)) if real.size else None,
        "precision": None if precision is None else float(precision),
        "recall": None if recall is None else float(recall),
        "f1": None if f1 is None else float(f1),
        "real_hits": int(real.sum()),
        "predicted_hits": int(predicted.sum()),
    }


def groove_errors(real: np.ndarray, predicted: np.ndarray, step_ms: np.ndarray) -> dict:
    """Velocity MAE (MIDI units) and timing MAE (ms) of `predicted` grooves on the real hits.

    `real`, `predicted`: [N, steps, 27] grooves; `step_ms`: [N, 1, 1] step lengths. A real hit is
    judged by the predicted velocity and offset of its own cell, as humanizing applies them,
    whether or not the model also put a hit there.
    """
    real, predicted = np.asarray(real, np.float64), np.asarray(predicted, np.float64)
    hits = real[..., HITS] > HIT_THRESHOLD
    if not hits.any():
        return {"velocity_mae": None, "timing_mae_ms": None}
    velocity_error = np.abs(predicted[..., VELOCITIES] - real[..., VELOCITIES]) * 127
    timing_error = np.abs(timing_milliseconds(predicted[..., OFFSETS] - real[..., OFFSETS], step_ms))
    return {
        "velocity_mae": float(velocity_error[hits].mean()),
        "timing_mae_ms": float(np.broadcast_to(timing_error, hits.shape)[hits].mean()),
    }


def groove_scores(real: np.ndarray, predicted: np.ndarray, step_ms: np.ndarray) -> dict:
    """Hit scores, velocity and timing errors of `predicted` grooves against `real` ones."""
    return {"hits": hit_scores(real[..., HITS], predicted[..., HITS]), **groove_errors(real, predicted, step_ms)}


def constant_groove(real: np.ndarray, velocity: float) -> np.ndarray:
    """Baseline (a): the real hits, each at `velocity` (0-1) and on the grid."""
    groove = np.zeros(real.shape, np.float32)
    groove[..., HITS] = real[..., HITS]
    groove[..., VELOCITIES] = velocity * (real[..., HITS] > HIT_THRESHOLD)
    return groove


@dataclass
class PositionMeans:
    """Training hits' mean velocity and offset per (16th step within the bar, drum class)."""

    velocity: np.ndarray  # float64 [steps_per_bar, classes], 0-1
    offset: np.ndarray  # float64 [steps_per_bar, classes], GrooveConverter offsets
    hits: np.ndarray  # int [steps_per_bar, classes]: training hits behind each mean

    @property
    def steps_per_bar(self) -> int:
        return len(self.velocity)


def position_means(train: np.ndarray, steps_per_bar: int) -> PositionMeans:
    """Mean velocity and offset of the training hits per step within the bar and drum class.

    A (step, class) the training windows never hit takes the class's mean over all its steps, and a
    class never hit the mean of all hits, so every cell has a value.
    """
    train = np.asarray(train, np.float64)
    steps = train.shape[1]
    if steps % steps_per_bar:
        raise ValueError(f"windows of {steps} steps are not whole bars of {steps_per_bar} steps")
    bars = train.reshape(-1, steps_per_bar, train.shape[2])  # every bar of every window
    hits = bars[..., HITS] > HIT_THRESHOLD
    if not hits.any():
        raise ValueError("the training windows have no hits: no baseline velocity or offset")
    counts = hits.sum(axis=0)
    means = []
    for values in (bars[..., VELOCITIES], bars[..., OFFSETS]):
        overall = values[hits].mean()
        class_hits = hits.sum(axis=(0, 1))
        class_sums = np.where(hits, values, 0).sum(axis=(0, 1))
        class_mean = np.where(class_hits > 0, class_sums / np.maximum(class_hits, 1), overall)
        sums = np.where(hits, values, 0).sum(axis=0)
        means.append(np.where(counts > 0, sums / np.maximum(counts, 1), class_mean[np.newaxis, :]))
    return PositionMeans(velocity=means[0], offset=means[1], hits=counts)


def position_groove(real: np.ndarray, means: PositionMeans) -> np.ndarray:
    """Baseline (b): the real hits, each at its (step within the bar, class) training mean."""
    steps = real.shape[1]
    if steps % means.steps_per_bar:
        raise ValueError(f"windows of {steps} steps are not whole bars of {means.steps_per_bar} steps")
    bars = steps // means.steps_per_bar
    hits = real[..., HITS] > HIT_THRESHOLD
    groove = np.zeros(real.shape, np.float32)
    groove[..., HITS] = hits
    groove[..., VELOCITIES] = np.tile(means.velocity, (bars, 1)) * hits
    groove[..., OFFSETS] = np.tile(means.offset, (bars, 1)) * hits
    return groove


def groove_distributions(real: np.ndarray, predicted: np.ndarray, step_ms: np.ndarray) -> dict:
    """Per drum class, mean and std of velocity (MIDI units) and timing (ms) on the real hits, for
    the drummer (`real`) and the model (`predicted`, read at the same cells)."""
    hits = np.asarray(real)[..., HITS] > HIT_THRESHOLD

    def statistics(groove):
        groove = np.asarray(groove, np.float64)
        velocity = groove[..., VELOCITIES] * 127
        timing = np.broadcast_to(timing_milliseconds(groove[..., OFFSETS], step_ms), hits.shape)
        return velocity, timing

    shown = {"real": statistics(real), "model": statistics(predicted)}
    classes = {}
    for index, name in enumerate(DRUM_CLASS_NAMES):
        cells = hits[..., index]
        entry = {"hits": int(cells.sum())}
        for who, (velocity, timing) in shown.items():
            if not cells.any():
                entry[who] = None
                continue
            entry[who] = {
                "velocity_mean": float(velocity[..., index][cells].mean()),
                "velocity_std": float(velocity[..., index][cells].std()),
                "timing_ms_mean": float(timing[..., index][cells].mean()),
                "timing_ms_std": float(timing[..., index][cells].std()),
            }
        classes[name] = entry
    return classes


def groove_targets(scores: Mapping[str, Mapping]) -> dict:
    """The model's velocity and timing MAE below each baseline's (`scores`: model and baselines)."""
    targets = {}
    for metric in ("velocity_mae", "timing_mae_ms"):
        for baseline in ("constant", "position_mean"):
            model, reference = scores["model"][metric], scores[baseline][metric]
            met = None if model is None or reference is None else bool(model < reference)
            targets[f"{metric}_below_{baseline}"] = {"value": model, "threshold": reference, "met": met}
    evaluated = [target["met"] for target in targets.values()]
    targets["all_met"] = bool(evaluated) and all(met is True for met in evaluated)
    return targets


def groove_split_report(real: np.ndarray, predicted: np.ndarray, step_ms: np.ndarray, train_velocity, means) -> dict:
    """Model and both baselines scored on one set of windows, and the per-class distributions."""
    scores = {
        "model": groove_scores(real, predicted, step_ms),
        "constant": groove_scores(real, constant_groove(real, train_velocity), step_ms),
        "position_mean": groove_scores(real, position_groove(real, means), step_ms),
    }
    return {"windows": len(real), **scores, "distributions": groove_distributions(real, predicted, step_ms)}


def evaluate_groove(model_dir, split_paths: Mapping[str, str], train_path: str, evaluation: Mapping) -> dict:
    """Humanizes the quantized held-out windows of each split (`split_paths`) with a groove model and
    compares the result with what the drummers played, beside two baselines made from the training
    windows (`train_path`): hit scores, velocity and timing errors, per-class distributions, and
    whether the model's errors are below both baselines' on all held-out windows together."""
    model = TrainedModelDir.load(model_dir)
    representation = model.converter
    if not is_groove(representation):
        raise ValueError(f"{model_dir}: a {representation['converter']} model, not a groove (GrooveConverter) one")
    steps_per_quarter = representation["steps_per_quarter"]
    steps_per_bar = steps_per_quarter * representation["quarters_per_bar"]
    temperature = evaluation["groove_temperature"]
    train = Windows.load(train_path).labels.astype(np.float32)
    train_hits = train[..., HITS] > HIT_THRESHOLD
    if not train_hits.any():
        raise ValueError(f"{train_path}: the training windows have no hits: no baselines")
    train_velocity = float(train[..., VELOCITIES][train_hits].mean())
    means = position_means(train, steps_per_bar)
    batch_size = humanizer_batch_size(representation, evaluation["batch_size"])
    trained = model.trained_model(batch_size=batch_size, seed=evaluation["seed"])
    report = {
        "metrics": dict(GROOVE_METRICS),
        "temperature": temperature,
        "seed": evaluation["seed"],
        "steps_per_bar": steps_per_bar,
        "baseline_velocity": train_velocity * 127,
        "splits": {},
        "warnings": [],
    }
    pooled = {"real": [], "predicted": [], "step_ms": []}
    for split, path in split_paths.items():
        windows = Windows.load(path)
        if not len(windows):
            warning = f"the {split} split has no windows: no groove metrics on it"
            log.warning(warning)
            report["warnings"].append(warning)
            report["splits"][split] = {"windows": 0}
            continue
        if windows.qpm is None:
            raise ValueError(f"{path}: the windows carry no tempo (qpm): not groove windows, or made by an old version")
        real = windows.labels.astype(np.float32)
        step_ms = groove_step_milliseconds(windows.qpm, steps_per_quarter)
        log.info("%s: humanizing %d windows", split, len(windows))
        predicted = batched_humanize(trained, windows, temperature, batch_size)
        report["splits"][split] = groove_split_report(real, predicted, step_ms, train_velocity, means)
        for name, value in (("real", real), ("predicted", predicted), ("step_ms", step_ms)):
            pooled[name].append(value)
    if pooled["real"]:
        held_out = groove_split_report(*(np.concatenate(pooled[name]) for name in pooled), train_velocity, means)
        report["held_out"] = held_out
        report["targets"] = groove_targets(held_out)
    else:
        report["held_out"] = None
        report["targets"] = None
    return report


def batched_humanize(trained, windows: Windows, temperature: float, batch_size: int) -> np.ndarray:
    """float32 [N, steps, 27]: the model's grooves for every window, `batch_size` at a time."""
    inputs = windows.inputs.astype(np.float32)
    outputs = []
    for start in range(0, len(inputs), batch_size):
        chunk = slice(start, start + batch_size)
        controls = None if windows.controls is None else windows.controls[chunk]
        outputs.append(humanize_windows(trained, inputs[chunk], controls, temperature))
        done = min(start + batch_size, len(inputs))
        if done % 500 < batch_size or done == len(inputs):
            log.info("humanized %d / %d windows", done, len(inputs))
    return np.concatenate(outputs)


def groove_row(variant: str, report: Mapping) -> dict:
    """One line of the groove table: the model beside both baselines on all held-out windows."""
    row = {"variant": variant}
    held_out = report.get("held_out")
    if not held_out:
        row["warnings"] = "; ".join(report.get("warnings", [])) or "no held-out windows"
        return row
    row["windows"] = held_out["windows"]
    for metric in ("velocity_mae", "timing_mae_ms"):
        for who in ("model", "constant", "position_mean"):
            row[f"{metric}_{who}"] = held_out[who][metric]
    row["hit_f1"] = held_out["model"]["hits"]["f1"]
    row["hit_cell_accuracy"] = held_out["model"]["hits"]["cell_accuracy"]
    row.update(target_columns(report["targets"]))
    row["warnings"] = "; ".join(report.get("warnings", []))
    return row
