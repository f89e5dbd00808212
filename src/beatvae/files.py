"""Writing outputs so that a crash, a kill or a full disk never leaves a half-written file in place.

Shared by the stage modules (data, generation, rendering): each writes beside the final name and
renames only when the write succeeded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


def temporary_beside(path: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """The name a file is written under before it is renamed into place."""
    return Path(path).with_name(Path(path).name + suffix)


@contextlib.contextmanager
def written_atomically(path: str | os.PathLike, suffix: str = ".tmp"):
    """Yields a temporary path beside `path` to write; renames it into place when the block succeeds.

    `suffix` keeps the extension tools choose a format by (e.g. ".partial.wav"). On any failure (a
    full disk; SIGTERM under logs.exit_on_sigterm) the temporary file is removed; one left by a
    SIGKILL is removed when the file is next written.
    """
    temporary = temporary_beside(path, suffix)
    temporary.parent.mkdir(parents=True, exist_ok=True)
    temporary.unlink(missing_ok=True)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def scratch_beside(path: str | os.PathLike) -> Path:
    """The hidden folder the intermediate files of `path` are made in (`.NAME.scratch` beside it)."""
    path = Path(path)
    return path.with_name(f".{path.name}.scratch")


@contextlib.contextmanager
def scratch_folder(path: str | os.PathLike):
    """Yields an empty folder beside `path` for the intermediate files of making it; removed on the way out.

    Its name is fixed by `path` (never random), so a folder left by a SIGKILL is removed when
    `path` is next made, instead of staying forever beside the outputs.
    """
    scratch = scratch_beside(path)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
