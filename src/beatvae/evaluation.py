"""Held-out reconstruction metrics of a trained model, with Magenta's own loss and metric ops."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from beatvae import magenta_env
from beatvae.dataset import Windows
from beatvae.metrics import quality_targets
from beatvae.model import TrainedModelDir, sample_latents
from beatvae.settings import NUM_DRUM_CLASSES, window_steps
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
    train = Windows.load(train_path).drum_rolls()
    report.update(sample_report(samples, real, train, temperature, seed))
    validation = report["reconstruction"].get("validation", {}).get("free_running", {})
    if report["real_baseline"] is not None:
        report["targets"] = quality_targets(
            report["samples"]["statistics"],
            report["samples"]["distance_to_held_out"]["overall"],
            report["memorization"]["nearest_hamming"],
            report["real_baseline"],
            validation.get("accuracy") if validation.get("windows") else None,
            evaluation.get("targets"),
        )
    report["warnings"] = warnings
    return report


def sample_report(samples: np.ndarray, real: np.ndarray, train: np.ndarray, temperature: float, seed: int) -> dict:
    """Sample statistics against held-out real windows (`real`), memorization against the training
    windows, and the real-vs-real baseline (held-out vs training windows) for each figure."""
    from beatvae.metrics import distribution_distance, nearest_training_windows, real_baseline, sample_statistics

    baseline = real_baseline(real, train, len(samples), seed) if len(real) else None
    nearest = nearest_training_windows(samples, train)
    cells = samples.shape[1] * samples.shape[2]
    return {
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
    """One line of the comparison table over variants."""
    row = {"variant": variant}
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
    targets = report.get("targets") or {}
    for name, target in targets.items():
        if isinstance(target, dict):
            row[f"target_{name}"] = {True: "met", False: "not met", None: "not evaluated"}[target["met"]]
    if targets:
        row["targets_met"] = "all" if targets["all_met"] else "not all"
    row["warnings"] = "; ".join(report.get("warnings", []))
    return row
