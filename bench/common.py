"""Shared helpers for the benchmarks: paths, config with schema defaults, the machine, timing statistics."""

from __future__ import annotations

import copy
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = Path(os.environ.get("BENCH_WORK", BENCH / "work"))  # git-ignored scratch space
RESULTS = WORK / "results"  # one JSON per benchmark of the current invocation
PYTHON = str(REPO / ".venv" / "bin" / "python")
SAMPLE_ZIP = REPO / "data" / "gmd-sample" / "groove-v1.0.0-midionly-sample.zip"
# The cores this process may run on (`taskset -c 0 bench/run` gives 1), not the machine's count.
CORES = len(os.sched_getaffinity(0))

# Model sizes named in the brief.
TINY = {
    "hparams": {"enc_rnn_size": [32], "dec_rnn_size": [32, 32], "z_size": 16, "batch_size": 8},
    "level_lengths": [4, 16],
}
REFERENCE = {
    "hparams": {"enc_rnn_size": [512], "dec_rnn_size": [256, 256], "z_size": 512, "batch_size": 512},
    "level_lengths": [8, 8],
}
SIZES = {"tiny": TINY, "reference": REFERENCE}


def load_config(path=REPO / "config" / "config.yaml") -> dict:
    """The workflow config with the schema's defaults filled in, exactly as the Snakefile does."""
    import yaml
    from snakemake.utils import validate

    config = yaml.safe_load(Path(path).read_text())
    validate(config, str(REPO / "config" / "schema.yaml"), set_default=True)
    return copy.deepcopy(config)


def variant(size: str | None = None, base: str = "v2-small", **training) -> dict:
    """A fully defaulted variant: `base` from config.yaml, optionally resized to TINY/REFERENCE; no
    time limit (`max_minutes`) unless `training` sets one, as benchmarks compare equal steps."""
    config = load_config()
    result = copy.deepcopy(config["variants"][base])
    result["training"]["max_minutes"] = None
    if size in SIZES:
        result["hparams"].update(SIZES[size]["hparams"])
        result["model"]["level_lengths"] = list(SIZES[size]["level_lengths"])
    result["training"].update(training)
    return result


def load_representation(name: str = "drums-4bar") -> dict:
    """A representation of config.yaml (its converter and settings), schema defaults filled in."""
    return load_config()["representations"][name]


def machine() -> dict:
    """What the figures were measured on, taken when called (bench/run: at its start and its end)."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    ram_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return {
        "time": time.time(),
        "cpu": cpu,
        "cores": CORES,
        "cores_in_machine": os.cpu_count(),
        "ram_gib": ram_kib / 1024**2,
        "kernel": platform.release(),
        "loadavg_1_5_15": list(os.getloadavg()),
        "nvidia_smi": nvidia_gpus(),
    }


def nvidia_gpus() -> list[str] | None:
    """The GPUs nvidia-smi lists (name, memory), or None where there is no nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return None
    query = ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"]
    proc = subprocess.run(query, capture_output=True, text=True, timeout=60)
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()] if proc.returncode == 0 else []


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0, "min": None, "median": None, "max": None}
    return {
        "n": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "all": values,
    }


def save(name: str, data: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=str))


def run_python(args, timeout=900, env=None):
    """Runs `.venv/bin/python args...` in a fresh process.

    Returns a dict: spawn (time), wall and cpu (user+sys) seconds, load_before (1-minute load
    average), rc, out, err, result (last JSON line of stdout). spawn is taken just before the
    process is created, so child-reported absolute times can be measured from process start.
    """
    full_env = dict(os.environ, PYTHONUNBUFFERED="1")
    paths = [str(REPO / "src"), str(BENCH), os.environ.get("PYTHONPATH")]
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    full_env.update(env or {})
    load_before = loadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawn = time.time()
    try:
        proc = subprocess.run(
            [PYTHON, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=str(REPO)
        )
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as error:
        out = error.stdout.decode() if isinstance(error.stdout, bytes) else (error.stdout or "")
        rc, err = "timeout", str(error)
    wall = time.time() - spawn
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "spawn": spawn,
        "wall": wall,
        "cpu": cpu,
        "load_before": load_before,
        "rc": rc,
        "out": out,
        "err": err,
        "result": last_json_line(out or ""),
    }


def last_json_line(text: str) -> dict | None:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> float:
    return os.getloadavg()[0]
