"""Per-rule log files for Snakemake scripts."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import traceback


@contextlib.contextmanager
def redirect_to_log(path: str | os.PathLike):
    """Sends stdout, stderr (including TensorFlow's C++ output) and `logging` to `path`.

    File descriptors 1 and 2 are redirected, not just sys.stdout, because TensorFlow and
    FluidSynth write from native code. A failure's traceback is written to the log too.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "w", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True
        )
        try:
            yield log
        except BaseException:
            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class Terminated(SystemExit):
    """The job was asked to stop (SIGTERM: Snakemake, SLURM's scancel, a user's kill)."""


@contextlib.contextmanager
def exit_on_sigterm():
    """Turns SIGTERM into Terminated (exit status 143) while the block runs in the main thread, so the
    clean-up code on the way out (temporary files, worker processes) runs before the job ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
