"""Numbers that describe how drum hits are played: a groove model's humanized windows against what
the drummer played (hit scores, velocity and timing errors, per-class distributions), and two
baselines made from the training windows to beat.

A groove window is Magenta's GrooveConverter layout: per step, for each of the 9 drum classes a hit
(0/1), then each class's velocity (0-1, i.e. MIDI velocity / 127), then each class's timing offset in
[-1, 1] (twice the fraction of a step the drummer played early: the true onset is
`(step - offset / 2)` steps). Only numpy is imported here, so none of this pulls in TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from beatvae.settings import DRUM_CLASS_NAMES, NUM_DRUM_CLASSES

HITS = slice(0, NUM_DRUM_CLASSES)
VELOCITIES = slice(NUM_DRUM_CLASSES, 2 * NUM_DRUM_CLASSES)
OFFSETS = slice(2 * NUM_DRUM_CLASSES, 3 * NUM_DRUM_CLASSES)


def step_milliseconds(qpm, steps_per_quarter: int):
    """Length of one grid step in milliseconds at tempo `qpm` (a number or an array)."""
    return 60_000.0 / np.asarray(qpm, np.float64) / steps_per_quarter


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


@dataclass
class GrooveBaselines:
    """The two baselines a groove model is held against, learned from the training windows."""

    velocity: float  # constant: every hit at the training hits' mean velocity (0-1), on the grid
    means: PositionMeans  # position_mean: each hit at its (step within the bar, class) training mean


def groove_baselines(train: np.ndarray, steps_per_bar: int) -> GrooveBaselines:
    """Both baselines from the training windows `train` (grooves [N, steps, 27] with hits)."""
    hits = train[..., HITS] > HIT_THRESHOLD
    return GrooveBaselines(
        velocity=float(train[..., VELOCITIES][hits].mean()), means=position_means(train, steps_per_bar)
    )


def groove_split_report(
    real: np.ndarray, predicted: np.ndarray, step_ms: np.ndarray, baselines: GrooveBaselines
) -> dict:
    """Model and both baselines scored on one set of windows, and the per-class distributions."""
    scores = {
        "model": groove_scores(real, predicted, step_ms),
        "constant": groove_scores(real, constant_groove(real, baselines.velocity), step_ms),
        "position_mean": groove_scores(real, position_groove(real, baselines.means), step_ms),
    }
    return {"windows": len(real), **scores, "distributions": groove_distributions(real, predicted, step_ms)}
