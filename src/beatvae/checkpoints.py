"""The checkpoint folder a variant trains in (results/checkpoints/<variant>), and every decision about it.

The folder lives outside Snakemake's outputs, so a failed or killed job keeps it. One trainer at a time
holds it (`CheckpointLock`); a folder trained with other settings or data is set aside, never deleted,
until the new run has exported a model of its own (`prepare_checkpoint_dir`, `drop_set_aside`); a
resumed run keeps at most `checkpoints_to_keep` checkpoints, counting those of the runs before it
(`prune_checkpoints`); the best-validated checkpoint is kept apart, out of that rotation
(`BestCheckpoint`, in `best/`).

Standard library only: what the training loop does with TensorFlow stays in beatvae.training.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Mapping
from pathlib import Path

from beatvae.settings import (
    CHECKPOINT_STATE_FILE,
    FINGERPRINT_FILE,
    SCALARS_FILE,
    WINDOWS_FILE_KEY,
    checkpoint_name_step,
    file_sha256,
    num_steps_problem,
)

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "model.ckpt"  # the Saver's checkpoints: model.ckpt-<step>.index, .data-*
BEST_FOLDER = "best"  # a copy of the best-validated checkpoint, out of the Saver's rotation
BEST_RECORD = "best.json"
EVENT_RUNS = ("train", "validation")  # TensorBoard's event folders, one per run of scalars


class CheckpointDirBusy(RuntimeError):
    """Another live trainer holds the checkpoint folder."""


class TrainingSettingsError(ValueError):
    """Loop settings that disagree with the checkpoints already trained; the message names the key."""


def checkpoint_prefix(checkpoint_dir: Path) -> str:
    """What the Saver saves to: it appends `-<step>` to name each checkpoint."""
    return str(Path(checkpoint_dir) / CHECKPOINT_PREFIX)


def scalars_path(checkpoint_dir: Path) -> Path:
    """The training and validation scalars CSV of the runs in the folder (copied into the model folder)."""
    return Path(checkpoint_dir) / SCALARS_FILE


def events_dir(checkpoint_dir: Path, run: str) -> Path:
    """TensorBoard's event files of one run of scalars (`train` or `validation`)."""
    return Path(checkpoint_dir) / run


def saved_checkpoints(checkpoint_dir: Path) -> list[tuple[int, str]]:
    """(step, path prefix) of every checkpoint the Saver left in the folder, by step (`best/` not included)."""
    found = (index.name.removesuffix(".index") for index in Path(checkpoint_dir).glob(f"{CHECKPOINT_PREFIX}-*.index"))
    return sorted((checkpoint_name_step(name), str(Path(checkpoint_dir) / name)) for name in found)


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
    return (checkpoint_dir / CHECKPOINT_STATE_FILE).exists()


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


def _set_aside_folder(checkpoint_dir: Path, fingerprint: str) -> Path:
    """Where checkpoints trained with `fingerprint` wait while the folder trains with other settings."""
    return checkpoint_dir.with_name(f"{checkpoint_dir.name}.previous-{fingerprint}")


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
            set_aside = _set_aside_folder(checkpoint_dir, stored.get("fingerprint", "unknown"))
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
    earlier = _set_aside_folder(checkpoint_dir, expected_fingerprint)
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
    older = [prefix for step, prefix in saved_checkpoints(checkpoint_dir) if step <= resume_step]
    for prefix in older[:-keep]:
        name = Path(prefix).name
        for part in Path(checkpoint_dir).glob(f"{glob.escape(name)}.*"):
            part.unlink()
        log.info("deleted %s: more than training.checkpoints_to_keep (%d) in %s", name, keep, checkpoint_dir)
    return older[-keep:]


def check_num_steps(num_steps: int, checkpoint_path: str | None, name: str) -> None:
    """Never exports a model trained longer than asked: num_steps below the newest checkpoint is an error."""
    problem = num_steps_problem(name, num_steps, checkpoint_path)
    if problem:
        raise TrainingSettingsError(problem)


def copy_checkpoint(checkpoint_path: str, folder: Path) -> None:
    """Copies every file of one checkpoint (`<prefix>.index`, `.data-*`) into `folder`."""
    name = Path(checkpoint_path).name
    for part in Path(checkpoint_path).parent.glob(f"{name}.*"):
        shutil.copy2(part, folder / part.name)


class BestCheckpoint:
    """The checkpoint with the lowest validation loss so far, copied out of the Saver's rotation.

    Lives in `<checkpoint folder>/best/`: the checkpoint's files and `best.json` (its step and loss,
    the digest of the validation windows it was measured on, and how many validations since did no
    better, which early stopping counts).
    """

    def __init__(self, checkpoint_dir: Path, validation_digest: str):
        self.folder = Path(checkpoint_dir) / BEST_FOLDER
        self.record_path = self.folder / BEST_RECORD
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
        copy_checkpoint(checkpoint_path, staging)
        record = {
            "step": step,
            "checkpoint": Path(checkpoint_path).name,
            "validation_loss": loss,
            "validation_windows": self.digest,
            "validations_since_best": 0,
        }
        (staging / BEST_RECORD).write_text(json.dumps(record, indent=2))
        shutil.rmtree(self.folder, ignore_errors=True)
        staging.rename(self.folder)
        self.record = record
        return True
