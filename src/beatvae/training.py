"""Trains a Magenta MusicVAE from precomputed windows, resumably.

Checkpoints live in a working folder that Snakemake does not own (a failed or killed job keeps
them); the rule's declared model folder is written only when training has finished.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import signal
import time
from pathlib import Path
from typing import Mapping

from beatvae import magenta_env
from beatvae.dataset import Windows
from beatvae.model import build_config, fingerprint, training_settings

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "model.ckpt"
SCALARS_FILE = "scalars.csv"
SCALAR_COLUMNS = [
    "step",
    "loss",
    "r_loss",
    "kl_loss",
    "kl_bits",
    "accuracy",
    "beta",
    "sampling_probability",
    "learning_rate",
    "global_norm",
    "examples_per_second",
]


class TrainingInterrupted(RuntimeError):
    pass


def make_dataset(tf, windows_placeholders, batch_size: int, output_depth: int, seed: int, shuffle: bool = True, repeat: bool = True):
    """tf.data pipeline over in-memory windows: shuffle, repeat, batch, expand labels, prefetch.

    Batching happens before the one-hot expansion so it is one vectorised op per batch.
    """
    inputs, labels, lengths = windows_placeholders
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels, lengths))
    if shuffle:
        dataset = dataset.shuffle(buffer_size=100_000, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=True)

    def to_model_tensors(batch_inputs, batch_labels, batch_lengths):
        return {
            "input_sequence": tf.cast(batch_inputs, tf.float32),
            "output_sequence": tf.one_hot(tf.cast(batch_labels, tf.int32), output_depth, dtype=tf.float32),
            "sequence_length": batch_lengths,
        }

    return dataset.map(to_model_tensors, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def windows_placeholders(tf, windows: Windows):
    """Placeholders fed once at iterator initialisation (keeps large arrays out of the GraphDef)."""
    return (
        tf.placeholder(tf.bool, shape=windows.inputs.shape, name="window_inputs"),
        tf.placeholder(tf.int16, shape=windows.labels.shape, name="window_labels"),
        tf.placeholder(tf.int32, shape=windows.lengths.shape, name="window_lengths"),
    )


def session_config(tf, threads: int | None):
    kwargs = {"allow_soft_placement": True}
    if threads:
        kwargs.update(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=max(1, min(threads, 2)))
    config = tf.ConfigProto(**kwargs)
    config.gpu_options.allow_growth = True
    return config


def clipped_train_op(tf, model, optimizer, hparams):
    """Gradient clipping exactly as magenta.models.music_vae.music_vae_train.train does it."""
    grads, var_list = list(zip(*optimizer.compute_gradients(model.loss)))
    global_norm = tf.global_norm(grads)
    if hparams.clip_mode == "value":
        clipped = [tf.clip_by_value(g, -hparams.grad_clip, hparams.grad_clip) for g in grads]
    else:
        clipped = tf.cond(
            global_norm < hparams.grad_norm_clip_to_zero,
            lambda: tf.clip_by_global_norm(grads, hparams.grad_clip, use_norm=global_norm)[0],
            lambda: [tf.zeros(tf.shape(g)) for g in grads],
        )
    train_op = optimizer.apply_gradients(list(zip(clipped, var_list)), global_step=model.global_step, name="train_step")
    return train_op, global_norm


def metric_tensors(tf, metric_map: Mapping, name: str):
    """(value, update op) of a tf.metrics entry of Magenta's metric map.

    A hierarchical decoder reports the mean over its segments with a no-op update; the real
    updates are its per-segment entries (`segment/NNN/<name>`), so all of them are grouped.
    """
    value, _ = metric_map[name]
    updates = [update for key, (_, update) in metric_map.items() if key == name or key.endswith("/" + name)]
    return value, tf.group(*updates)


def checkpoint_step(path: str | None) -> int:
    match = re.search(r"-(\d+)$", path or "")
    return int(match.group(1)) if match else 0


def prepare_checkpoint_dir(checkpoint_dir: Path, expected_fingerprint: str) -> None:
    """Keeps checkpoints only if they were trained with the same settings; otherwise starts over."""
    marker = checkpoint_dir / "fingerprint.json"
    if checkpoint_dir.exists():
        stored = json.loads(marker.read_text()).get("fingerprint") if marker.exists() else None
        if stored == expected_fingerprint:
            return
        log.warning("checkpoints in %s were trained with other settings (%s); starting over", checkpoint_dir, stored)
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True)
    marker.write_text(json.dumps({"fingerprint": expected_fingerprint}))


def _truncated_scalars(path: Path, last_step: int) -> None:
    """Drops rows logged after the checkpoint we resume from, so steps never repeat in the CSV."""
    if not path.exists():
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerow(SCALAR_COLUMNS)
        return
    with open(path, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= last_step]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, SCALAR_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


class _StopRequest:
    """Turns SIGTERM/SIGINT (Snakemake or SLURM cancelling the job) into a checkpoint-and-exit."""

    def __init__(self):
        self.signal = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train_variant(
    variant: Mapping,
    converter: Mapping,
    train_windows: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    model_dir: str | os.PathLike,
    threads: int | None = None,
    process_start: float | None = None,
) -> dict:
    """Trains (or resumes training) up to `training.num_steps`, then exports the final checkpoint.

    Returns a summary that is also written to `model_dir/training.json`.
    """
    process_start = process_start or time.time()
    tf = magenta_env.tensorflow_v1()
    from magenta.models.music_vae import lstm_utils

    settings = variant["training"]
    checkpoint_dir, model_dir = Path(checkpoint_dir), Path(model_dir)
    windows = Windows.load(train_windows)
    if len(windows) == 0:
        raise ValueError(f"{train_windows} holds no training windows: the subset's train split is empty")

    settings_fingerprint = fingerprint(variant, converter)
    prepare_checkpoint_dir(checkpoint_dir, settings_fingerprint)
    resume_from = tf.train.latest_checkpoint(str(checkpoint_dir))
    start_step = checkpoint_step(resume_from)
    scalars_path = checkpoint_dir / SCALARS_FILE
    _truncated_scalars(scalars_path, start_step)

    config = build_config(variant, converter)
    hparams = config.hparams
    batch_size = hparams.batch_size
    graph = tf.Graph()
    with graph.as_default():
        # Resumed runs reshuffle differently from the first run, instead of replaying its batches.
        tf.set_random_seed(settings["seed"] + start_step)
        model = config.model
        model.build(hparams, config.data_converter.output_depth, is_training=True)
        placeholders = windows_placeholders(tf, windows)
        dataset = make_dataset(tf, placeholders, batch_size, config.data_converter.output_depth, seed=settings["seed"] + start_step)
        iterator = tf.data.make_initializable_iterator(dataset)
        optimizer = model.train(**iterator.get_next())
        train_op, global_norm = clipped_train_op(tf, model, optimizer, hparams)
        accuracy, accuracy_update = metric_tensors(tf, model.metric_map, "metrics/accuracy")
        logged = {
            "loss": model.loss,
            "r_loss": tf.reduce_mean(model.scalars["losses/r_loss"]),
            "kl_loss": tf.reduce_mean(model.scalars["losses/kl_loss"]),
            "kl_bits": tf.reduce_mean(model.scalars["losses/kl_bits"]),
            "beta": tf.reduce_mean(model.scalars["losses/kl_beta"]),
            "sampling_probability": lstm_utils.get_sampling_probability(hparams, is_training=True),
            "learning_rate": optimizer._lr,  # the decayed rate MusicVAE.train built for Adam
            "global_norm": global_norm,
        }
        saver = tf.train.Saver(max_to_keep=settings["checkpoints_to_keep"], save_relative_paths=True)
        initialise = [tf.global_variables_initializer(), tf.local_variables_initializer()]
        reset_metrics = tf.local_variables_initializer()
    graph.finalize()

    with tf.Session(graph=graph, config=session_config(tf, threads)) as session, _StopRequest() as stop:
        session.run(initialise)
        if resume_from:
            saver.restore(session, resume_from)
            log.info("resumed from %s (step %d)", resume_from, start_step)
        session.run(iterator.initializer, dict(zip(placeholders, (windows.inputs, windows.labels, windows.lengths))))
        step = session.run(model.global_step)
        num_steps = settings["num_steps"]
        first_step_seconds = None
        interval_start, interval_steps = time.time(), 0
        train_start = time.time()
        with open(scalars_path, "a", newline="") as scalars_file:
            writer = csv.DictWriter(scalars_file, SCALAR_COLUMNS)
            while step < num_steps:
                log_now = (step + 1) % settings["log_every_steps"] == 0 or step + 1 == num_steps
                fetches = {"train": train_op, "accuracy_update": accuracy_update}
                if log_now:
                    fetches["scalars"] = logged
                result = session.run(fetches)
                step += 1  # reading global_step in the same run would race with its increment
                interval_steps += 1
                if first_step_seconds is None:
                    first_step_seconds = time.time() - process_start
                    log.info("first training step done %.1f s after process start", first_step_seconds)
                if log_now:
                    elapsed = time.time() - interval_start
                    row = {k: float(v) for k, v in result["scalars"].items()}
                    row.update(step=step, accuracy=float(session.run(accuracy)), examples_per_second=interval_steps * batch_size / elapsed)
                    writer.writerow(row)
                    scalars_file.flush()
                    log.info("step %d/%d loss %.4f accuracy %.3f (%.0f examples/s)", step, num_steps, row["loss"], row["accuracy"], row["examples_per_second"])
                    session.run(reset_metrics)
                    interval_start, interval_steps = time.time(), 0
                if step % settings["checkpoint_every_steps"] == 0 or step == num_steps or stop.signal:
                    saver.save(session, str(checkpoint_dir / CHECKPOINT_PREFIX), global_step=step, write_meta_graph=False)
                if stop.signal:
                    raise TrainingInterrupted(f"stopped by signal {stop.signal} at step {step}; checkpoint saved, rerun to resume")
        final_checkpoint = tf.train.latest_checkpoint(str(checkpoint_dir))
    train_seconds = time.time() - train_start
    summary = {
        "steps": int(step),
        "resumed_from_step": start_step,
        "steps_this_run": int(step) - start_step,
        "seconds_to_first_step": first_step_seconds,
        "train_seconds_this_run": train_seconds,
        "windows": len(windows),
        "batch_size": batch_size,
        "fingerprint": settings_fingerprint,
        "variant": training_settings(variant),
        "converter": dict(converter),
    }
    export_model(final_checkpoint, checkpoint_dir, model_dir, summary)
    return summary


def export_model(checkpoint_path: str, checkpoint_dir: Path, model_dir: Path, summary: Mapping) -> None:
    """Copies the final checkpoint, scalars and summary into `model_dir`, all at once by a rename."""
    staging = model_dir.with_name(f".{model_dir.name}.exporting")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    name = Path(checkpoint_path).name
    for part in Path(checkpoint_path).parent.glob(f"{name}.*"):
        shutil.copy2(part, staging / part.name)
    (staging / "checkpoint").write_text(f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')
    shutil.copy2(checkpoint_dir / SCALARS_FILE, staging / SCALARS_FILE)
    (staging / "training.json").write_text(json.dumps(summary, indent=2, default=str))
    shutil.rmtree(model_dir, ignore_errors=True)
    staging.rename(model_dir)
