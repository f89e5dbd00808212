"""Trains a Magenta MusicVAE from precomputed windows, resumably, validating as it goes.

A `TrainingRun` says what to train and where; `train_variant` trains in the variant's checkpoint
folder (beatvae.checkpoints: its lock, set-aside folders, rotation and best checkpoint) and, once
training has finished, exports the chosen checkpoint as the rule's declared model folder
(`TrainedModelDir.export`).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beatvae import magenta_env
from beatvae.checkpoints import (
    EVENT_RUNS,
    BestCheckpoint,
    CheckpointLock,
    TrainingSettingsError,
    check_num_steps,
    checkpoint_prefix,
    drop_set_aside,
    events_dir,
    prepare_checkpoint_dir,
    prune_checkpoints,
    record_training_windows,
    scalars_path,
)
from beatvae.dataset import Windows
from beatvae.model import (
    SUMMARY_REPRESENTATION_KEY,
    TrainedModelDir,
    build_config,
    fingerprint,
    fingerprint_parts,
    training_settings,
    windows_digest,
)
from beatvae.settings import (
    CONVERTERS,
    DECODER_METRIC_NAMES,
    DECODERS,
    SCALAR_COLUMNS,
    init_source_id,
    model_shape_problem,
    validation_columns,
)
from beatvae.tfgraph import (
    COMMON_METRICS,
    ReconstructionGraph,
    checkpoint_step,
    make_dataset,
    metric_tensors,
    reconstruction_metric_names,
    session_config,
    windows_feed,
    windows_placeholders,
)

log = logging.getLogger(__name__)

# The decoders' own metrics (accuracy, or the groove losses per part) follow `kl_bits` in the logged rows.
DECODER_SCALARS = DECODER_METRIC_NAMES
VALIDATION_SCALARS = {decoder: validation_columns(decoder) for decoder in DECODERS}


class TrainingInterrupted(RuntimeError):
    pass


class NoGpu(RuntimeError):
    """The variant asked for a GPU, but TensorFlow sees none: fail at once instead of training on the CPU for days."""


@dataclass(frozen=True)
class TrainingRun:
    """One training run, as its caller (the job script, a benchmark, a test) decides it.

    `variant` holds the variant's model, hparams and training sections as the validated config has
    them: every loop setting filled in from config/schema.yaml, their one place (callers outside
    Snakemake validate the config the same way). `representation` is the config's representation
    the windows are made with; `name` (the variant's) names config keys in errors; `gpus` is the
    variant's `resources.gpus`; `init_from` a trained model folder whose weights a fresh run starts
    from; `process_start` when the job's process started (its start-up time is reported), else when
    training was called.
    """

    variant: Mapping
    representation: Mapping
    train_windows: str | os.PathLike
    checkpoint_dir: Path
    model_dir: Path
    validation_windows: str | os.PathLike | None = None
    init_from: str | os.PathLike | None = None
    name: str = "(this)"
    threads: int | None = None
    gpus: int = 0
    process_start: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "checkpoint_dir", Path(self.checkpoint_dir))
        object.__setattr__(self, "model_dir", Path(self.model_dir))

    @property
    def training(self) -> Mapping:
        """The loop settings: `training` of the variant (num_steps, seed, the intervals, export, ...)."""
        return self.variant["training"]


def truncate_scalars(path: Path, last_step: int) -> None:
    """Drops rows logged after the checkpoint we resume from, so steps never repeat in the CSV.

    Rows of an older CSV without some columns are kept, with those columns empty.
    """
    rows = []
    if path.exists():
        with open(path, newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= last_step]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, SCALAR_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


class ScalarLog:
    """Training and validation scalars: rows of the CSV, TensorBoard event files and the job log."""

    def __init__(self, tf, checkpoint_dir: Path, start_step: int, num_steps: int):
        self.tf, self.num_steps = tf, num_steps
        self.deadline = math.inf  # when a time limit (training.max_minutes) ends the run: the ETA's bound
        self.csv_path = scalars_path(checkpoint_dir)
        truncate_scalars(self.csv_path, start_step)
        # Open for the whole run (rows are appended and flushed as training goes); close() closes it.
        self._file = open(self.csv_path, "a", newline="")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, SCALAR_COLUMNS)
        self.events = {run: tf.summary.FileWriter(str(events_dir(checkpoint_dir, run))) for run in EVENT_RUNS}
        for writer in self.events.values():
            # TensorBoard drops events after `start_step` logged by the run we resume from.
            writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), global_step=start_step)
        self.start(start_step)

    def start(self, step: int) -> None:
        """Starts the clock of steps/s and ETA (wall time, so checkpoints and validations count too)."""
        self._interval = (time.time(), step)

    def _events(self, run: str, step: int, values: Mapping) -> None:
        summary = self.tf.Summary(
            value=[self.tf.Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()]
        )
        self.events[run].add_summary(summary, step)
        self.events[run].flush()

    def write(self, step: int, train: Mapping | None, validation: Mapping | None) -> None:
        row = {"step": step, **(train or {}), **(validation or {})}
        self._writer.writerow(row)
        self._file.flush()
        if train:
            self._events("train", step, train)
            started, first = self._interval
            steps_per_second = (step - first) / max(time.time() - started, 1e-9)
            remaining = (self.num_steps - step) / steps_per_second if steps_per_second else math.inf
            remaining = min(remaining, max(0.0, self.deadline - time.time()))
            measured = " ".join(f"{key} {train[key]:.3f}" for key in DECODER_SCALARS if key in train)
            log.info(
                "step %d/%d loss %.4f %s | %.0f examples/s, %.2f steps/s, ETA %s",
                step,
                self.num_steps,
                train["loss"],
                measured,
                train["examples_per_second"],
                steps_per_second,
                _duration(remaining),
            )
            self._interval = (time.time(), step)
        if validation:
            self._events("validation", step, {key.removeprefix("validation_"): v for key, v in validation.items()})
            log.info(
                "step %d validation %s",
                step,
                ", ".join(f"{key.removeprefix('validation_')} {value:.4f}" for key, value in validation.items()),
            )

    def close(self) -> None:
        self._file.close()
        for writer in self.events.values():
            writer.close()


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def clipped_train_op(tf, music_vae, optimizer, hparams):
    """Gradient clipping exactly as magenta.models.music_vae.music_vae_train.train does it."""
    grads, var_list = list(zip(*optimizer.compute_gradients(music_vae.loss), strict=True))
    global_norm = tf.global_norm(grads)
    if hparams.clip_mode == "value":
        clipped = [tf.clip_by_value(g, -hparams.grad_clip, hparams.grad_clip) for g in grads]
    else:
        clipped = tf.cond(
            global_norm < hparams.grad_norm_clip_to_zero,
            lambda: tf.clip_by_global_norm(grads, hparams.grad_clip, use_norm=global_norm)[0],
            lambda: [tf.zeros(tf.shape(g)) for g in grads],
        )
    train_op = optimizer.apply_gradients(
        list(zip(clipped, var_list, strict=True)), global_step=music_vae.global_step, name="train_step"
    )
    return train_op, global_norm


class TrainingGraph:
    """Magenta's MusicVAE, loss, optimizer and clipping over the training windows, with logged scalars."""

    def __init__(self, tf, config, windows: Windows, seed: int, checkpoints_to_keep: int):
        from magenta.models.music_vae import lstm_utils

        hparams = config.hparams
        self.batch_size = hparams.batch_size
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(seed)
            music_vae = config.model
            music_vae.build(hparams, config.data_converter.output_depth, is_training=True)
            self.placeholders = windows_placeholders(tf, windows)
            dataset = make_dataset(
                tf, self.placeholders, self.batch_size, config.data_converter.output_depth, seed=seed
            )
            self.iterator = tf.data.make_initializable_iterator(dataset)
            optimizer = music_vae.train(**self.iterator.get_next())
            self.train_op, global_norm = clipped_train_op(tf, music_vae, optimizer, hparams)
            # Streaming means of the decoder's metrics since the last logged step (accuracy, or groove losses).
            decoder_metrics = {
                key: metric_tensors(tf, music_vae.metric_map, name)
                for key, name in reconstruction_metric_names(config).items()
                if key not in COMMON_METRICS
            }
            self.metric_values = {key: value for key, (value, _) in decoder_metrics.items()}
            self.metric_updates = tf.group(*(update for _, update in decoder_metrics.values()))
            self.scalars = {
                "loss": music_vae.loss,
                "r_loss": tf.reduce_mean(music_vae.scalars["losses/r_loss"]),
                "kl_loss": tf.reduce_mean(music_vae.scalars["losses/kl_loss"]),
                "kl_bits": tf.reduce_mean(music_vae.scalars["losses/kl_bits"]),
                "beta": tf.reduce_mean(music_vae.scalars["losses/kl_beta"]),
                "sampling_probability": lstm_utils.get_sampling_probability(hparams, is_training=True),
                "learning_rate": optimizer._lr,  # the decayed rate MusicVAE.train built for Adam
                "global_norm": global_norm,
            }
            self.global_step = music_vae.global_step
            self.saver = tf.train.Saver(max_to_keep=checkpoints_to_keep, save_relative_paths=True)
            # Fine-tuning starts from another model's weights only: its step, schedules and Adam slots start over.
            self.weights = tf.trainable_variables()
            self.weights_saver = tf.train.Saver(var_list=self.weights)
            self.initialise = [tf.global_variables_initializer(), tf.local_variables_initializer()]
            self.reset_metrics = tf.local_variables_initializer()
        self.graph.finalize()


class Validation:
    """Validation loss and accuracies (teacher-forced and free-running) of saved checkpoints, and the best one."""

    def __init__(self, tf, variant, representation, windows: Windows, checkpoint_dir: Path, seed: int, threads=None):
        self.windows = len(windows)
        self.columns = VALIDATION_SCALARS[CONVERTERS[representation["converter"]]["decoder"]]
        self.graphs = {
            mode: ReconstructionGraph(
                tf,
                lambda **o: build_config(variant, representation, **o),
                windows,
                variant["hparams"]["batch_size"],
                mode,
                seed,
                threads,
            )
            for mode in dict.fromkeys(mode for mode, _ in self.columns.values())
        }
        self.best = BestCheckpoint(checkpoint_dir, windows_digest(windows))

    def validate(self, checkpoint_path: str, step: int) -> dict:
        measured = {mode: graph.measure(checkpoint_path) for mode, graph in self.graphs.items()}
        values = {column: measured[mode][key] for column, (mode, key) in self.columns.items()}
        self.best.update(checkpoint_path, step, values["validation_loss"])
        return values


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


def _device(tf, run: TrainingRun) -> str:
    """What TensorFlow trains on; a variant that asked for a GPU and sees none fails at once (NoGpu)."""
    gpus = tf.config.list_physical_devices("GPU")
    if run.gpus and not gpus:
        raise NoGpu(
            f"variants.{run.name}.resources.gpus asks for {run.gpus} GPU(s), but TensorFlow sees none "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}, TensorFlow built with CUDA: "
            f"{tf.test.is_built_with_cuda()}): on an NVIDIA host run `make setup` (it installs tensorflow[and-cuda]), "
            f"or set variants.{run.name}.resources.gpus: 0 to train on the CPU"
        )
    return f"GPU ({', '.join(gpu.name for gpu in gpus)})" if gpus else "CPU (TensorFlow sees no GPU)"


@dataclass(frozen=True)
class _Prepared:
    """What a run trains on and from, known (and every setting validated) before any checkpoint is touched."""

    windows: Windows
    validation: Windows | None
    config: Any  # Magenta's Config of the variant
    source: TrainedModelDir | None  # the init_from model
    parts: dict  # fingerprint_parts
    fingerprint: str
    device: str


def _prepare(tf, run: TrainingRun) -> _Prepared:
    """Loads the windows and the init_from model and builds the Config: every setting is validated
    before any checkpoint is touched."""
    windows = Windows.load(run.train_windows)
    if len(windows) == 0:
        raise ValueError(f"{run.train_windows} holds no training windows: the subset's train split is empty")
    validation = Windows.load(run.validation_windows) if run.validation_windows else None
    config = build_config(run.variant, run.representation)
    source = TrainedModelDir.load(run.init_from) if run.init_from else None
    if source:
        problem = model_shape_problem(
            run.name, run.variant, run.representation, source.path.name, source.variant, source.representation
        )
        if problem:
            raise TrainingSettingsError(problem)
    source_id = init_source_id(run.init_from) if source else None
    parts = fingerprint_parts(run.variant, run.representation, windows_digest(windows), source_id)
    device = _device(tf, run)
    return _Prepared(windows, validation, config, source, parts, fingerprint(parts), device)


def train_variant(run: TrainingRun) -> dict:
    """Trains (or resumes training) up to `training.num_steps`, then exports the chosen checkpoint.

    With validation windows and `training.validate_every_steps` > 0, every that many steps (and
    at the end) the checkpoint is validated; `training.export: best` exports the one with the
    lowest validation loss, `last` the final one; `training.early_stop_patience` > 0 stops after
    that many validations without improvement. A variant that asks for a GPU (`run.gpus` >= 1)
    fails at once without one (NoGpu). `run.init_from`, a trained model folder of the same shape,
    gives a fresh run its starting weights. Returns a summary that is also written to the model
    folder (its training.json).
    """
    process_start = run.process_start or time.time()
    tf = magenta_env.tensorflow_v1()
    prepared = _prepare(tf, run)
    log.info(
        "training %s on %s: %d windows, fingerprint %s",
        run.name,
        prepared.device,
        len(prepared.windows),
        prepared.fingerprint,
    )
    with CheckpointLock(run.checkpoint_dir):
        resume_from, start_step, kept = _resume_point(tf, run, prepared)
        validator = _validator(tf, run, prepared.validation, start_step)
        # Resumed runs reshuffle differently from the first run, instead of replaying its batches.
        graph = TrainingGraph(
            tf,
            prepared.config,
            prepared.windows,
            run.training["seed"] + start_step,
            run.training["checkpoints_to_keep"],
        )
        graph.saver.recover_last_checkpoints(kept)  # its rotation counts the checkpoints found
        scalars = ScalarLog(tf, run.checkpoint_dir, start_step, run.training["num_steps"])
        loop = _Loop(tf, run, graph, prepared.windows, scalars, validator, process_start)
        try:
            result = _train_loop(loop, start_from=resume_from or prepared.source)
        finally:
            scalars.close()
        exported, reason = _export_choice(run.training, validator, result["final_checkpoint"])
        summary = _summary(loop, prepared, start_step, result, {"checkpoint": exported, "reason": reason})
        log.info("exporting %s: %s", Path(exported).name, reason)
        TrainedModelDir.export(run.model_dir, exported, scalars_path(run.checkpoint_dir), summary)
        drop_set_aside(run.checkpoint_dir)
    return summary


def _resume_point(tf, run: TrainingRun, prepared: _Prepared) -> tuple[str | None, int, list[str]]:
    """Readies the checkpoint folder for this run's settings: the checkpoint it resumes (None for a
    fresh start), that checkpoint's step, and the checkpoints kept for the Saver to go on rotating."""
    prepare_checkpoint_dir(run.checkpoint_dir, prepared.fingerprint, prepared.parts)
    record_training_windows(run.checkpoint_dir, run.train_windows)
    resume_from = tf.train.latest_checkpoint(str(run.checkpoint_dir))
    start_step = checkpoint_step(resume_from)
    check_num_steps(run.training["num_steps"], resume_from, run.name)
    kept = prune_checkpoints(run.checkpoint_dir, run.training["checkpoints_to_keep"], start_step)
    return resume_from, start_step, kept


def _validator(tf, run: TrainingRun, validation: Windows | None, start_step: int) -> Validation | None:
    """The validation of this run's checkpoints, or None where it is not validated."""
    if not run.training["validate_every_steps"]:
        return None
    if validation is None or not len(validation):
        log.warning(
            "no validation windows (%s): training is not validated, the last checkpoint is exported",
            run.validation_windows,
        )
        return None
    validator = Validation(
        tf, run.variant, run.representation, validation, run.checkpoint_dir, run.training["seed"], run.threads
    )
    validator.best.forget_after(start_step)
    return validator


def _summary(loop: _Loop, prepared: _Prepared, start_step: int, result: Mapping, exported: Mapping) -> dict:
    """What training.json records of the run: its steps and times, data, fingerprint, the exported
    checkpoint and why, and the settings it was trained with."""
    validator, source = loop.validator, prepared.source
    return {
        "steps": result["step"],
        "resumed_from_step": start_step,
        "steps_this_run": result["step"] - start_step,
        "seconds_to_first_step": result["first_step_seconds"],
        "train_seconds_this_run": result["train_seconds"],
        "windows": len(prepared.windows),
        "validation_windows": validator.windows if validator else 0,
        "batch_size": loop.graph.batch_size,
        "device": prepared.device,
        "fingerprint": prepared.fingerprint,
        "fingerprint_parts": prepared.parts,
        "stopped_early": result["stopped_early"],
        "stopped_at_time_limit": result["stopped_at_time_limit"],
        "exported": {
            "step": checkpoint_step(exported["checkpoint"]),
            "checkpoint": Path(exported["checkpoint"]).name,
            "reason": exported["reason"],
        },
        "best_validation": dict(validator.best.record) if validator and validator.best.record else None,
        "variant": training_settings(loop.run.variant),
        SUMMARY_REPRESENTATION_KEY: dict(loop.run.representation),
        "init_from": (
            {"model": str(source.path), "fingerprint": source.fingerprint, "step": checkpoint_step(source.checkpoint)}
            if source
            else None
        ),
    }


def _initialise_from(tf, session, graph: TrainingGraph, source: TrainedModelDir, name: str) -> None:
    """Loads another trained model's weights, after checking every one has the shape this model needs."""
    stored = dict(tf.train.list_variables(source.checkpoint))
    mismatched = [
        f"{v.op.name} {v.shape.as_list()} (stored: {stored.get(v.op.name, 'missing')})"
        for v in graph.weights
        if stored.get(v.op.name) != v.shape.as_list()
    ]
    if mismatched:
        raise TrainingSettingsError(
            f"variants.{name}.training.init_from: {source.path} has another model shape; "
            f"{len(mismatched)} weights do not fit, e.g. {mismatched[0]}"
        )
    graph.weights_saver.restore(session, source.checkpoint)
    log.info("initialised %d weights from %s (%s)", len(graph.weights), source.path, Path(source.checkpoint).name)


@dataclass(frozen=True)
class _Loop:
    """What the step loop works with: the run, its graph and windows, where it logs, who validates."""

    tf: Any
    run: TrainingRun
    graph: TrainingGraph
    windows: Windows
    scalars: ScalarLog
    validator: Validation | None
    process_start: float

    def patience_spent(self) -> bool:
        """`training.early_stop_patience` validations in a row did no better than the best."""
        patience = self.run.training["early_stop_patience"]
        return bool(self.validator and patience and self.validator.best.validations_since >= patience)

    def out_of_time(self, train_start: float) -> bool:
        """`training.max_minutes` of steps have run since `train_start` (this job's first step)."""
        limit = self.run.training["max_minutes"]
        return bool(limit) and time.time() - train_start >= 60 * limit

    def validates_at(self, step: int, last: bool = False) -> bool:
        """A validation is due: on schedule, or at the run's last step (num_steps or a time limit)."""
        return self.validator is not None and (
            last or step % self.run.training["validate_every_steps"] == 0 or step == self.run.training["num_steps"]
        )

    def saves_at(self, step: int) -> bool:
        return step % self.run.training["checkpoint_every_steps"] == 0 or step == self.run.training["num_steps"]

    def logs_at(self, step: int) -> bool:
        return step % self.run.training["log_every_steps"] == 0 or step == self.run.training["num_steps"]


def _start_session(loop: _Loop, session, start_from) -> int:
    """Initialises the session's variables, restores `start_from` and feeds the windows; returns the step."""
    graph = loop.graph
    session.run(graph.initialise)
    if isinstance(start_from, TrainedModelDir):
        _initialise_from(loop.tf, session, graph, start_from, loop.run.name)
    elif start_from:
        graph.saver.restore(session, start_from)
        log.info("resumed from %s (step %d)", start_from, checkpoint_step(start_from))
    session.run(graph.iterator.initializer, windows_feed(graph.placeholders, loop.windows))
    return int(session.run(graph.global_step))


def _train_loop(loop: _Loop, start_from) -> dict:
    """Runs steps until num_steps, `training.max_minutes`, a stop signal or early stop; saves, validates
    and logs on schedule, and saves and validates the last step whatever ends the run.

    `start_from` is the checkpoint to resume, or the TrainedModelDir of a fresh fine-tuning run.
    """
    tf, graph, num_steps = loop.tf, loop.graph, loop.run.training["num_steps"]
    stopped_early = loop.patience_spent()
    if stopped_early:
        log.info("already stopped early (%d validations without improvement)", loop.validator.best.validations_since)
    with tf.Session(graph=graph.graph, config=session_config(tf, loop.run.threads)) as session, _StopRequest() as stop:
        step = _start_session(loop, session, start_from)
        first_step_seconds = None
        throughput = _Throughput(graph.batch_size)
        train_start = time.time()
        if loop.run.training["max_minutes"]:
            loop.scalars.deadline = train_start + 60 * loop.run.training["max_minutes"]
        loop.scalars.start(step)
        timed_out = False
        while step < num_steps and not stopped_early and not timed_out:
            log_now = loop.logs_at(step + 1)
            fetches = {"train": graph.train_op, "metric_updates": graph.metric_updates}
            if log_now:
                fetches["scalars"] = graph.scalars
            fetched = session.run(fetches)
            step += 1  # reading global_step in the same run would race with its increment
            throughput.steps += 1
            if first_step_seconds is None:
                first_step_seconds = time.time() - loop.process_start
                log.info("first training step done %.1f s after process start", first_step_seconds)
            timed_out = loop.out_of_time(train_start) and step < num_steps
            train_row = _train_row(session, graph, fetched["scalars"], throughput) if log_now else None
            validation_row = _save_on_schedule(loop, session, step, stop.signal, last=timed_out)
            stopped_early = loop.patience_spent()
            if train_row or validation_row:
                loop.scalars.write(step, train_row, validation_row)
            if log_now:
                throughput.restart()
            if stopped_early:
                log.info(
                    "early stop at step %d: %d validations without a lower validation loss",
                    step,
                    loop.run.training["early_stop_patience"],
                )
            if timed_out:
                log.info(
                    "time limit: %g minutes of training (training.max_minutes) reached at step %d of %d",
                    loop.run.training["max_minutes"],
                    step,
                    num_steps,
                )
            if stop.signal:
                raise TrainingInterrupted(
                    f"stopped by signal {stop.signal} at step {step}; checkpoint saved, rerun to resume"
                )
    return {
        "step": step,
        "first_step_seconds": first_step_seconds,
        "train_seconds": time.time() - train_start,
        "stopped_early": stopped_early,
        "stopped_at_time_limit": timed_out,
        "final_checkpoint": tf.train.latest_checkpoint(str(loop.run.checkpoint_dir)),
    }


class _Throughput:
    """Examples per second over the steps since the last logged one."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.restart()

    def restart(self) -> None:
        self.start, self.steps = time.time(), 0

    def examples_per_second(self) -> float:
        return self.steps * self.batch_size / (time.time() - self.start)


def _train_row(session, graph: TrainingGraph, scalars: Mapping, throughput: _Throughput) -> dict:
    """The logged training scalars of a step, with the decoder's metrics averaged since the last logged step."""
    row = {k: float(v) for k, v in scalars.items()}
    row.update(
        {key: float(value) for key, value in session.run(graph.metric_values).items()},
        examples_per_second=throughput.examples_per_second(),
    )
    session.run(graph.reset_metrics)
    return row


def _save_on_schedule(loop: _Loop, session, step: int, stop_signal, last: bool = False) -> dict | None:
    """Saves a checkpoint when one is due (a validation, the checkpoint interval, the last step, a stop
    request; `last`: the run ends here) and validates it when a validation is due; returns the
    validation row, if any."""
    validate_now = loop.validates_at(step, last)
    if not (validate_now or last or loop.saves_at(step) or stop_signal):
        return None
    saved = loop.graph.saver.save(
        session, checkpoint_prefix(loop.run.checkpoint_dir), global_step=step, write_meta_graph=False
    )
    return loop.validator.validate(saved, step) if validate_now else None


def _export_choice(settings: Mapping, validator: Validation | None, final_checkpoint: str) -> tuple[str, str]:
    """The checkpoint to export, and why."""
    if settings["export"] == "last":
        return final_checkpoint, "training.export is last"
    if validator is None or validator.best.record is None:
        return final_checkpoint, "training.export is best, but training was not validated: the last checkpoint"
    record = validator.best.record
    return (
        validator.best.checkpoint,
        f"lowest validation loss {record['validation_loss']:.4f} at step {record['step']} "
        f"({record['validations_since_best']} later validations did no better)",
    )
