"""The evaluation stage: held-out figures of trained models, with Magenta's own loss and metric ops.
Drum-class variants: reconstruction, samples against held-out playing, memorization and the quality
targets; groove variants: held-out windows humanized against what the drummers played. The figures
themselves are defined without TensorFlow (metrics, realism, groove_metrics); the tables over
variants are made from these reports (comparison)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from beatvae import magenta_env
from beatvae.dataset import Windows
from beatvae.groove import humanize_windows, humanizer_batch_size
from beatvae.groove_metrics import (
    GROOVE_METRICS,
    HIT_THRESHOLD,
    HITS,
    GrooveBaselines,
    groove_baselines,
    groove_split_report,
    groove_step_milliseconds,
    groove_targets,
)
from beatvae.model import TrainedModelDir, sample_latents
from beatvae.settings import NUM_DRUM_CLASSES, is_groove, window_steps
from beatvae.targets import report_targets
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
    return decoded_rolls(trained, z, window_steps(model.representation), temperature, num_classes=num_classes)


def decoded_rolls(
    trained, z: np.ndarray, steps: int, temperature: float, c_input=None, num_classes: int = NUM_DRUM_CLASSES
) -> np.ndarray:
    """bool [n, steps, classes]: the drum rolls Magenta's TrainedModel `trained` decodes from latents `z`
    (with `c_input` [steps, control depth] on every step, for a model trained with controls)."""
    outputs = trained.decode_to_tensors(z, length=steps, temperature=temperature, c_input=c_input)
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


def evaluate_model(
    model_dir, split_paths: Mapping[str, str], train_path: str, evaluation: Mapping, threads=None
) -> dict:
    """What the workflow's evaluate jobs run, chosen by the model's representation: a groove model's
    humanizing (`evaluate_groove`), or a beat model's reconstructions and samples (`evaluate_variant`
    at `evaluation.temperature`), with how far the model trained (`training_facts`)."""
    model = TrainedModelDir.load(model_dir)
    if is_groove(model.representation):
        report = evaluate_groove(model_dir, split_paths, train_path, evaluation)
    else:
        report = evaluate_variant(model_dir, split_paths, train_path, evaluation, evaluation["temperature"], threads)
    return {**report, "training": training_facts(model.summary)}


def training_facts(summary: Mapping) -> dict:
    """How far a model trained, from its training.json: a time limit (`training.max_minutes`) makes
    the steps depend on the machine, so the evaluation states them beside its figures."""
    return {
        "steps": summary.get("steps"),
        "exported_step": (summary.get("exported") or {}).get("step"),
        "stopped_at_time_limit": bool(summary.get("stopped_at_time_limit")),
    }


def evaluate_groove(model_dir, split_paths: Mapping[str, str], train_path: str, evaluation: Mapping) -> dict:
    """Humanizes the quantized held-out windows of each split (`split_paths`) with a groove model and
    compares the result with what the drummers played, beside two baselines made from the training
    windows (`train_path`): hit scores, velocity and timing errors, per-class distributions, and
    whether the model's errors are below both baselines' on all held-out windows together."""
    model = TrainedModelDir.load(model_dir)
    representation = model.representation
    if not is_groove(representation):
        raise ValueError(f"{model_dir}: a {representation['converter']} model, not a groove (GrooveConverter) one")
    steps_per_bar = representation["steps_per_quarter"] * representation["quarters_per_bar"]
    baselines = training_baselines(train_path, steps_per_bar)
    batch_size = humanizer_batch_size(representation, evaluation["batch_size"])
    humanizer = Humanizer(
        model.trained_model(batch_size=batch_size, seed=evaluation["seed"]),
        evaluation["groove_temperature"],
        batch_size,
        representation["steps_per_quarter"],
    )
    report = {
        "metrics": dict(GROOVE_METRICS),
        "temperature": humanizer.temperature,
        "seed": evaluation["seed"],
        "steps_per_bar": steps_per_bar,
        "baseline_velocity": baselines.velocity * 127,
        "splits": {},
        "warnings": [],
    }
    pooled = []
    for split, path in split_paths.items():
        windows = Windows.load(path)
        if not len(windows):
            warning = f"the {split} split has no windows: no groove metrics on it"
            log.warning(warning)
            report["warnings"].append(warning)
            report["splits"][split] = {"windows": 0}
            continue
        pooled.append(humanizer.split_grooves(windows, split, path))
        report["splits"][split] = groove_split_report(*pooled[-1], baselines)
    held_out = [np.concatenate(parts) for parts in zip(*pooled, strict=True)]
    report["held_out"] = groove_split_report(*held_out, baselines) if pooled else None
    report["targets"] = groove_targets(report["held_out"]) if pooled else None
    return report


def training_baselines(train_path: str, steps_per_bar: int) -> GrooveBaselines:
    """The groove baselines of the training windows in `train_path`; ValueError when they have no hits."""
    train = Windows.load(train_path).labels.astype(np.float32)
    if not (train[..., HITS] > HIT_THRESHOLD).any():
        raise ValueError(f"{train_path}: the training windows have no hits: no baselines")
    return groove_baselines(train, steps_per_bar)


@dataclass
class Humanizer:
    """A groove model (Magenta's TrainedModel) humanizing windows at one temperature, in batches."""

    trained: object
    temperature: float
    batch_size: int
    steps_per_quarter: int

    def split_grooves(self, windows: Windows, split: str, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(what the drummers played, what the model plays, each window's step in ms) of one split."""
        if windows.qpm is None:
            raise ValueError(f"{path}: the windows carry no tempo (qpm): not groove windows, or made by an old version")
        real = windows.labels.astype(np.float32)
        step_ms = groove_step_milliseconds(windows.qpm, self.steps_per_quarter)
        log.info("%s: humanizing %d windows", split, len(windows))
        return real, batched_humanize(self.trained, windows, self.temperature, self.batch_size), step_ms


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
