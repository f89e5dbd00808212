"""Trains a Magenta MusicVAE from precomputed windows, resumably, validating as it goes.

Checkpoints live in a working folder that Snakemake does not own (a failed or killed job keeps
them); the rule's declared model folder is written only when training has finished. One trainer
at a time holds a folder (`CheckpointLock`); a folder trained with other settings or data is set
aside, never deleted, until the new run has exported a model of its own; a resumed run keeps at
most `checkpoints_to_keep` checkpoints in the folder, counting those of the runs before it.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import glob
import json
import logging
import math
import os
import shutil
import signal
import socket
import time
from collections.abc import Mapping
from pathlib import Path

from beatvae import magenta_env
from beatvae.dataset import Windows
from beatvae.model import (
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
    FINGERPRINT_FILE,
    SCALAR_COLUMNS,
    WINDOWS_FILE_KEY,
    file_sha256,
    init_source_id,
    model_shape_problem,
    num_steps_problem,
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

CHECKPOINT_PREFIX = "model.ckpt"
SCALARS_FILE = "scalars.csv"
BEST_FOLDER = "best"  # a copy of the best-validated checkpoint, out of the Saver's rotation
# The decoders' own metrics (accuracy, or the groove losses per part) follow `kl_bits` in the logged rows.
DECODER_SCALARS = DECODER_METRIC_NAMES
VALIDATION_SCALARS = {decoder: validation_columns(decoder) for decoder in DECODERS}
# Loop settings the schema fills in; callers outside Snakemake (tests, bench) may leave them out.
LOOP_DEFAULTS = {"checkpoints_to_keep": 5, "validate_every_steps": 0, "export": "best", "early_stop_patience": 0}


class TrainingInterrupted(RuntimeError):
    pass


class CheckpointDirBusy(RuntimeError):
    """Another live trainer holds the checkpoint folder."""


class NoGpu(RuntimeError):
    """The variant asked for a GPU, but TensorFlow sees none: fail at once instead of training on the CPU for days."""


class TrainingSettingsError(ValueError):
    """Loop settings that disagree with the checkpoints already trained; the message names the key."""


class CheckpointLock:
    """One trainer per checkpoint folder: an flock on `<folder>.lock`, released when its process dies.

    The lock file sits beside the folder (the folder itself may be set aside while locked). It
    is removed on a clean exit; one left by a killed trainer holds no lock and is simply reused.
    """

    def __init__(self, checkpoint_dir: str | os.PathLike):
        self.checkpoint_dir = Path(checkpoint_dir)
        self.path = self.checkpoint_dir.with_name(self.checkpoint_dir.name + ".lock")
        self._fd = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise CheckpointDirBusy(
                    f"{self.checkpoint_dir} is being trained by another process ({self._holder()}); "
                    f"stop that trainer first (lock file {self.path})"
                ) from None
            # A releasing trainer may have unlinked the file between our open and flock: retry on the new one.
            try:
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode())
        self._fd = fd
        return self

    def _holder(self) -> str:
        try:
            holder = json.loads(self.path.read_text())
            return f"pid {holder['pid']} on host {holder['host']}"
        except (OSError, ValueError, KeyError):
            return "holder unknown"

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def _has_checkpoints(checkpoint_dir: Path) -> bool:
    return (checkpoint_dir / "checkpoint").exists()


def _changed_parts(stored: Mapping, parts: Mapping) -> str:
    old = stored.get("parts")
    if not old:
        return "stored without a breakdown (an older version)"
    changed = [
        f"{key} ({old.get(key)} -> {parts.get(key)})"
        for key in sorted(set(old) | set(parts))
        if old.get(key) != parts.get(key)
    ]
    return "changed: " + ", ".join(changed)


def prepare_checkpoint_dir(
    checkpoint_dir: Path, expected_fingerprint: str, parts: Mapping | None = None
) -> Path | None:
    """Keeps checkpoints trained with the same fingerprint; otherwise starts over without deleting any.

    Checkpoints of other settings are moved to `<folder>.previous-<their fingerprint>` (returned;
    `drop_set_aside` deletes such folders once the new run has exported its model: a run stopped
    before that, by any signal, leaves them). A folder set aside earlier with the expected
    fingerprint (a config change reverted) is moved back instead of retraining.
    """
    checkpoint_dir = Path(checkpoint_dir)
    marker = checkpoint_dir / FINGERPRINT_FILE
    set_aside = None
    if checkpoint_dir.exists():
        stored = json.loads(marker.read_text()) if marker.exists() else {}
        if stored.get("fingerprint") == expected_fingerprint:
            return None
        if _has_checkpoints(checkpoint_dir):
            set_aside = checkpoint_dir.with_name(
                f"{checkpoint_dir.name}.previous-{stored.get('fingerprint', 'unknown')}"
            )
            shutil.rmtree(set_aside, ignore_errors=True)
            checkpoint_dir.rename(set_aside)
            log.warning(
                "checkpoints in %s were trained with other settings or data (%s); starting over, the old ones "
                "are kept in %s until this run exports its model (revert the change to resume them)",
                checkpoint_dir,
                _changed_parts(stored, parts or {}),
                set_aside,
            )
        else:
            shutil.rmtree(checkpoint_dir)
    earlier = checkpoint_dir.with_name(f"{checkpoint_dir.name}.previous-{expected_fingerprint}")
    if earlier.exists():
        earlier.rename(checkpoint_dir)
        log.info("restored checkpoints trained with these settings from %s", earlier)
        return set_aside
    checkpoint_dir.mkdir(parents=True)
    marker.write_text(json.dumps({"fingerprint": expected_fingerprint, "parts": dict(parts or {})}, indent=2))
    return set_aside


def drop_set_aside(checkpoint_dir: Path) -> None:
    """Deletes the folders `prepare_checkpoint_dir` set aside: called once this run has exported its model."""
    checkpoint_dir = Path(checkpoint_dir)
    for folder in checkpoint_dir.parent.glob(f"{glob.escape(checkpoint_dir.name)}.previous-*"):
        shutil.rmtree(folder, ignore_errors=True)
        log.info("dropped %s: this run has exported its model", folder)


def record_training_windows(checkpoint_dir: Path, windows_file: str | os.PathLike) -> None:
    """Notes the training windows file's sha256 beside the fingerprint, for planning's num_steps check
    (settings.check_trained_steps), which cannot compute the windows' own digest."""
    marker = Path(checkpoint_dir) / FINGERPRINT_FILE
    stored = json.loads(marker.read_text()) if marker.exists() else {}
    sha = file_sha256(windows_file)
    if stored.get(WINDOWS_FILE_KEY) != sha:
        # Whole or not at all: planning (another Snakemake process) may read it meanwhile.
        staging = marker.with_name(marker.name + ".tmp")
        staging.write_text(json.dumps({**stored, WINDOWS_FILE_KEY: sha}, indent=2))
        staging.replace(marker)


def prune_checkpoints(checkpoint_dir: Path, keep: int, resume_step: int) -> list[str]:
    """Deletes all but the `keep` newest checkpoints up to `resume_step`, those of earlier (killed or
    stopped) runs included: the Saver's max_to_keep counts only its own process's saves. Returns the
    kept ones' paths, oldest first, for the Saver to go on rotating. The best checkpoint is copied to
    `best/`, out of this rotation; checkpoints after `resume_step` (saved by a run killed before it
    recorded them) are left for this run's saves to replace.
    """
    found = sorted(
        (checkpoint_step(index.name.removesuffix(".index")), index.name.removesuffix(".index"))
        for index in Path(checkpoint_dir).glob(f"{CHECKPOINT_PREFIX}-*.index")
    )
    older = [name for step, name in found if step <= resume_step]
    for name in older[:-keep]:
        for part in Path(checkpoint_dir).glob(f"{glob.escape(name)}.*"):
            part.unlink()
        log.info("deleted %s: more than training.checkpoints_to_keep (%d) in %s", name, keep, checkpoint_dir)
    return [str(Path(checkpoint_dir) / name) for name in older[-keep:]]


def check_num_steps(num_steps: int, checkpoint_path: str | None, name: str) -> None:
    """Never exports a model trained longer than asked: num_steps below the newest checkpoint is an error."""
    problem = num_steps_problem(name, num_steps, checkpoint_path)
    if problem:
        raise TrainingSettingsError(problem)


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
        self.csv_path = checkpoint_dir / SCALARS_FILE
        truncate_scalars(self.csv_path, start_step)
        # Open for the whole run (rows are appended and flushed as training goes); close() closes it.
        self._file = open(self.csv_path, "a", newline="")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, SCALAR_COLUMNS)
        self.events = {run: tf.summary.FileWriter(str(checkpoint_dir / run)) for run in ("train", "validation")}
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


def clipped_train_op(tf, model, optimizer, hparams):
    """Gradient clipping exactly as magenta.models.music_vae.music_vae_train.train does it."""
    grads, var_list = list(zip(*optimizer.compute_gradients(model.loss), strict=True))
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
        list(zip(clipped, var_list, strict=True)), global_step=model.global_step, name="train_step"
    )
    return train_op, global_norm


class TrainingGraph:
    """Magenta's model, loss, optimizer and clipping over the training windows, with logged scalars."""

    def __init__(self, tf, config, windows: Windows, seed: int, checkpoints_to_keep: int):
        from magenta.models.music_vae import lstm_utils

        hparams = config.hparams
        self.batch_size = hparams.batch_size
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(seed)
            model = config.model
            model.build(hparams, config.data_converter.output_depth, is_training=True)
            self.placeholders = windows_placeholders(tf, windows)
            dataset = make_dataset(
                tf, self.placeholders, self.batch_size, config.data_converter.output_depth, seed=seed
            )
            self.iterator = tf.data.make_initializable_iterator(dataset)
            optimizer = model.train(**self.iterator.get_next())
            self.train_op, global_norm = clipped_train_op(tf, model, optimizer, hparams)
            # Streaming means of the decoder's metrics since the last logged step (accuracy, or groove losses).
            decoder_metrics = {
                key: metric_tensors(tf, model.metric_map, name)
                for key, name in reconstruction_metric_names(config).items()
                if key not in COMMON_METRICS
            }
            self.metric_values = {key: value for key, (value, _) in decoder_metrics.items()}
            self.metric_updates = tf.group(*(update for _, update in decoder_metrics.values()))
            self.scalars = {
                "loss": model.loss,
                "r_loss": tf.reduce_mean(model.scalars["losses/r_loss"]),
                "kl_loss": tf.reduce_mean(model.scalars["losses/kl_loss"]),
                "kl_bits": tf.reduce_mean(model.scalars["losses/kl_bits"]),
                "beta": tf.reduce_mean(model.scalars["losses/kl_beta"]),
                "sampling_probability": lstm_utils.get_sampling_probability(hparams, is_training=True),
                "learning_rate": optimizer._lr,  # the decayed rate MusicVAE.train built for Adam
                "global_norm": global_norm,
            }
            self.global_step = model.global_step
            self.saver = tf.train.Saver(max_to_keep=checkpoints_to_keep, save_relative_paths=True)
            # Fine-tuning starts from another model's weights only: its step, schedules and Adam slots start over.
            self.weights = tf.trainable_variables()
            self.weights_saver = tf.train.Saver(var_list=self.weights)
            self.initialise = [tf.global_variables_initializer(), tf.local_variables_initializer()]
            self.reset_metrics = tf.local_variables_initializer()
        self.graph.finalize()


class BestCheckpoint:
    """The checkpoint with the lowest validation loss so far, copied out of the Saver's rotation.

    Lives in `<checkpoint folder>/best/`: the checkpoint's files and `best.json` (its step and loss,
    the digest of the validation windows it was measured on, and how many validations since did no
    better, which early stopping counts).
    """

    def __init__(self, checkpoint_dir: Path, validation_digest: str):
        self.folder = Path(checkpoint_dir) / BEST_FOLDER
        self.record_path = self.folder / "best.json"
        self.digest = validation_digest
        self.record = json.loads(self.record_path.read_text()) if self.record_path.exists() else None
        if self.record and self.record.get("validation_windows") != validation_digest:
            log.warning(
                "validation windows changed since %s was chosen; choosing the best checkpoint afresh", self.folder
            )
            self._forget()

    def _forget(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.record = None

    def forget_after(self, step: int) -> None:
        """A resumed run restarts at `step`: a best chosen later (by a run killed after validating) is gone."""
        if self.record and self.record["step"] > step:
            self._forget()

    @property
    def validations_since(self) -> int:
        return self.record["validations_since_best"] if self.record else 0

    @property
    def checkpoint(self) -> str | None:
        return str(self.folder / self.record["checkpoint"]) if self.record else None

    def update(self, checkpoint_path: str, step: int, loss: float) -> bool:
        """Records one validation; keeps a copy of `checkpoint_path` if its loss is the lowest. True if it is."""
        if self.record is not None and not loss < self.record["validation_loss"]:
            self.record["validations_since_best"] += 1
            self.record_path.write_text(json.dumps(self.record, indent=2))
            return False
        staging = self.folder.with_name(BEST_FOLDER + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for part in Path(checkpoint_path).parent.glob(Path(checkpoint_path).name + ".*"):
            shutil.copy2(part, staging / part.name)
        record = {
            "step": step,
            "checkpoint": Path(checkpoint_path).name,
            "validation_loss": loss,
            "validation_windows": self.digest,
            "validations_since_best": 0,
        }
        (staging / "best.json").write_text(json.dumps(record, indent=2))
        shutil.rmtree(self.folder, ignore_errors=True)
        staging.rename(self.folder)
        self.record = record
        return True


class Validation:
    """Validation loss and accuracies (teacher-forced and free-running) of saved checkpoints, and the best one."""

    def __init__(self, tf, variant, converter, windows: Windows, checkpoint_dir: Path, seed: int, threads=None):
        self.windows = len(windows)
        self.columns = VALIDATION_SCALARS[CONVERTERS[converter["converter"]]["decoder"]]
        self.graphs = {
            mode: ReconstructionGraph(
                tf,
                lambda **o: build_config(variant, converter, **o),
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


def _device(tf) -> str:
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({', '.join(gpu.name for gpu in gpus)})" if gpus else "CPU (TensorFlow sees no GPU)"


def train_variant(
    variant: Mapping,
    converter: Mapping,
    train_windows: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    model_dir: str | os.PathLike,
    threads: int | None = None,
    process_start: float | None = None,
    validation_windows: str | os.PathLike | None = None,
    name: str = "(this)",
    gpus: int = 0,
    init_from: str | os.PathLike | None = None,
) -> dict:
    """Trains (or resumes training) up to `training.num_steps`, then exports the chosen checkpoint.

    With `validation_windows` and `training.validate_every_steps` > 0, every that many steps (and
    at the end) the checkpoint is validated; `training.export: best` exports the one with the
    lowest validation loss, `last` the final one; `training.early_stop_patience` > 0 stops after
    that many validations without improvement. `name` (the variant's) names config keys in errors;
    `gpus` (the variant's `resources.gpus`) >= 1 makes a missing GPU an error (NoGpu). `init_from`,
    a trained model folder of the same shape, gives a fresh run its starting weights.
    Returns a summary that is also written to `model_dir/training.json`.
    """
    process_start = process_start or time.time()
    tf = magenta_env.tensorflow_v1()
    settings = {**LOOP_DEFAULTS, **variant["training"]}
    checkpoint_dir, model_dir = Path(checkpoint_dir), Path(model_dir)
    windows = Windows.load(train_windows)
    if len(windows) == 0:
        raise ValueError(f"{train_windows} holds no training windows: the subset's train split is empty")
    validation = Windows.load(validation_windows) if validation_windows else None
    # Every setting is validated (the Config built) before any checkpoint is touched.
    config = build_config(variant, converter)
    source = TrainedModelDir.load(init_from) if init_from else None
    if source:
        problem = model_shape_problem(name, variant, converter, source.path.name, source.variant, source.converter)
        if problem:
            raise TrainingSettingsError(problem)
    source_id = init_source_id(init_from) if source else None
    parts = fingerprint_parts(variant, converter, windows_digest(windows), source_id)
    settings_fingerprint = fingerprint(parts)
    device = _device(tf)
    if gpus and not tf.config.list_physical_devices("GPU"):
        raise NoGpu(
            f"variants.{name}.resources.gpus asks for {gpus} GPU(s), but TensorFlow sees none "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}, TensorFlow built with CUDA: "
            f"{tf.test.is_built_with_cuda()}): on an NVIDIA host run `make setup` (it installs tensorflow[and-cuda]), "
            f"or set variants.{name}.resources.gpus: 0 to train on the CPU"
        )
    log.info("training %s on %s: %d windows, fingerprint %s", name, device, len(windows), settings_fingerprint)

    with CheckpointLock(checkpoint_dir):
        prepare_checkpoint_dir(checkpoint_dir, settings_fingerprint, parts)
        record_training_windows(checkpoint_dir, train_windows)
        resume_from = tf.train.latest_checkpoint(str(checkpoint_dir))
        start_step = checkpoint_step(resume_from)
        num_steps = settings["num_steps"]
        check_num_steps(num_steps, resume_from, name)
        kept = prune_checkpoints(checkpoint_dir, settings["checkpoints_to_keep"], start_step)

        validator = None
        if settings["validate_every_steps"] and validation is not None and len(validation):
            validator = Validation(tf, variant, converter, validation, checkpoint_dir, settings["seed"], threads)
            validator.best.forget_after(start_step)
        elif settings["validate_every_steps"]:
            log.warning(
                "no validation windows (%s): training is not validated, the last checkpoint is exported",
                validation_windows,
            )
        # Resumed runs reshuffle differently from the first run, instead of replaying its batches.
        graph = TrainingGraph(tf, config, windows, settings["seed"] + start_step, settings["checkpoints_to_keep"])
        graph.saver.recover_last_checkpoints(kept)  # its rotation counts the checkpoints found
        scalars = ScalarLog(tf, checkpoint_dir, start_step, num_steps)
        try:
            run = _train_loop(
                tf,
                graph,
                windows,
                start_from=resume_from or source,
                checkpoint_dir=checkpoint_dir,
                settings=settings,
                scalars=scalars,
                validator=validator,
                threads=threads,
                process_start=process_start,
                name=name,
            )
        finally:
            scalars.close()
        exported, reason = _export_choice(settings, validator, run["final_checkpoint"])
        summary = {
            "steps": run["step"],
            "resumed_from_step": start_step,
            "steps_this_run": run["step"] - start_step,
            "seconds_to_first_step": run["first_step_seconds"],
            "train_seconds_this_run": run["train_seconds"],
            "windows": len(windows),
            "validation_windows": validator.windows if validator else 0,
            "batch_size": graph.batch_size,
            "device": device,
            "fingerprint": settings_fingerprint,
            "fingerprint_parts": parts,
            "stopped_early": run["stopped_early"],
            "exported": {"step": checkpoint_step(exported), "checkpoint": Path(exported).name, "reason": reason},
            "best_validation": dict(validator.best.record) if validator and validator.best.record else None,
            "variant": training_settings(variant),
            "converter": dict(converter),
            "init_from": (
                {
                    "model": str(source.path),
                    "fingerprint": source.fingerprint,
                    "step": checkpoint_step(source.checkpoint),
                }
                if source
                else None
            ),
        }
        log.info("exporting %s: %s", Path(exported).name, reason)
        export_model(exported, checkpoint_dir, model_dir, summary)
        drop_set_aside(checkpoint_dir)
    return summary


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


def _train_loop(
    tf,
    graph: TrainingGraph,
    windows,
    start_from,
    checkpoint_dir,
    settings,
    scalars,
    validator,
    threads,
    process_start,
    name,
) -> dict:
    """Runs steps until num_steps, a stop signal or early stop; saves, validates and logs on schedule.

    `start_from` is the checkpoint to resume, or the TrainedModelDir of a fresh fine-tuning run.
    """
    num_steps, validate_every = settings["num_steps"], settings["validate_every_steps"]
    patience = settings["early_stop_patience"]
    stopped_early = bool(validator and patience and validator.best.validations_since >= patience)
    if stopped_early:
        log.info("already stopped early (%d validations without improvement)", validator.best.validations_since)
    with tf.Session(graph=graph.graph, config=session_config(tf, threads)) as session, _StopRequest() as stop:
        session.run(graph.initialise)
        if isinstance(start_from, TrainedModelDir):
            _initialise_from(tf, session, graph, start_from, name)
        elif start_from:
            graph.saver.restore(session, start_from)
            log.info("resumed from %s (step %d)", start_from, checkpoint_step(start_from))
        session.run(graph.iterator.initializer, windows_feed(graph.placeholders, windows))
        step = int(session.run(graph.global_step))
        first_step_seconds = None
        interval_start, interval_steps = time.time(), 0
        train_start = time.time()
        scalars.start(step)
        while step < num_steps and not stopped_early:
            log_now = (step + 1) % settings["log_every_steps"] == 0 or step + 1 == num_steps
            fetches = {"train": graph.train_op, "metric_updates": graph.metric_updates}
            if log_now:
                fetches["scalars"] = graph.scalars
            result = session.run(fetches)
            step += 1  # reading global_step in the same run would race with its increment
            interval_steps += 1
            if first_step_seconds is None:
                first_step_seconds = time.time() - process_start
                log.info("first training step done %.1f s after process start", first_step_seconds)
            train_row = None
            if log_now:
                train_row = {k: float(v) for k, v in result["scalars"].items()}
                train_row.update(
                    {key: float(value) for key, value in session.run(graph.metric_values).items()},
                    examples_per_second=interval_steps * graph.batch_size / (time.time() - interval_start),
                )
                session.run(graph.reset_metrics)
            validate_now = validator is not None and (step % validate_every == 0 or step == num_steps)
            validation_row = None
            if validate_now or step % settings["checkpoint_every_steps"] == 0 or step == num_steps or stop.signal:
                saved = graph.saver.save(
                    session, str(checkpoint_dir / CHECKPOINT_PREFIX), global_step=step, write_meta_graph=False
                )
                if validate_now:
                    validation_row = validator.validate(saved, step)
                    stopped_early = bool(patience and validator.best.validations_since >= patience)
            if train_row or validation_row:
                scalars.write(step, train_row, validation_row)
            if log_now:
                interval_start, interval_steps = time.time(), 0
            if stopped_early:
                log.info("early stop at step %d: %d validations without a lower validation loss", step, patience)
            if stop.signal:
                raise TrainingInterrupted(
                    f"stopped by signal {stop.signal} at step {step}; checkpoint saved, rerun to resume"
                )
    return {
        "step": step,
        "first_step_seconds": first_step_seconds,
        "train_seconds": time.time() - train_start,
        "stopped_early": stopped_early,
        "final_checkpoint": tf.train.latest_checkpoint(str(checkpoint_dir)),
    }


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


def export_model(checkpoint_path: str, checkpoint_dir: Path, model_dir: Path, summary: Mapping) -> None:
    """Copies the chosen checkpoint, scalars and summary into `model_dir`, all at once by a rename."""
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
