"""Held-out reconstruction metrics of a trained model, with Magenta's own loss and metric ops."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from beatvae import magenta_env
from beatvae.dataset import Windows
from beatvae.model import TrainedModelDir, sample_latents
from beatvae.settings import NUM_DRUM_CLASSES, window_steps
from beatvae.tfgraph import DECODING_MODES, ReconstructionGraph


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
    """Held-out reconstruction, sample statistics against held-out playing, and memorization."""
    from beatvae.metrics import distribution_distance, nearest_training_windows, sample_statistics

    model = TrainedModelDir.load(model_dir)
    seed = evaluation["seed"]
    splits = {split: Windows.load(path) for split, path in split_paths.items()}
    report = {"reconstruction": evaluate_splits(model, splits, evaluation["batch_size"], seed, threads)}
    samples = sample_rolls(model, evaluation["num_samples"], temperature, seed)
    held_out = [windows.drum_rolls() for windows in splits.values()]
    real = np.concatenate(held_out) if held_out else np.zeros((0,) + samples.shape[1:], bool)
    report["samples"] = {
        "count": len(samples),
        "temperature": temperature,
        "statistics": sample_statistics(samples),
        "held_out_statistics": sample_statistics(real) if len(real) else None,
        "distance_to_held_out": distribution_distance(samples, real) if len(real) else None,
    }
    nearest = nearest_training_windows(samples, Windows.load(train_path).drum_rolls())
    cells = samples.shape[1] * samples.shape[2]
    report["memorization"] = {
        "exact_copies": int(np.sum(nearest.distance == 0)),
        "min_hamming": int(nearest.distance.min()),
        "mean_hamming": float(nearest.distance.mean()),
        "mean_hamming_fraction": float(nearest.distance.mean() / cells),
        "nearest_training_index": nearest.index.tolist(),
        "nearest_hamming": nearest.distance.tolist(),
    }
    return report


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
    distance = report["samples"]["distance_to_held_out"]
    row["sample_distance"] = distance["overall"] if distance else float("nan")
    row["sample_notes_per_bar"] = report["samples"]["statistics"]["notes_per_bar"]
    row["exact_copies"] = report["memorization"]["exact_copies"]
    row["mean_nearest_hamming"] = report["memorization"]["mean_hamming"]
    return row
