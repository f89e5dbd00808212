"""Per-rule log files for Snakemake scripts."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
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
