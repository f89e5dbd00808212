"""Benchmark 4: process start -> 8 samples + one 32-bar interpolation written, for a small model.

The model is trained here first (config.yaml's v2-small settings, few steps), then each
measurement is a fresh process running generate_samples then interpolate_variant.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from common import WORK, loadavg, log, run_python, save, summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-dir", help="use this trained model instead of training one (--smoke)")
    args = parser.parse_args()

    windows = WORK / "windows.npz"
    if not windows.exists():
        from b2_training import prepare_inputs

        prepare_inputs()
    if args.model_dir:
        return measure(
            args, Path(args.model_dir), {"wall": None}, "a model trained elsewhere in this run (tiny, --smoke)"
        )
    workdir = WORK / "gen-train"
    shutil.rmtree(workdir, ignore_errors=True)
    training = run_python(["bench/worker.py", "train", windows, workdir, args.train_steps], timeout=900)
    if training["rc"] != 0:
        raise RuntimeError(f"training the generation model failed: {training['err'][-3000:]}")
    log(f"generate: trained v2-small's recipe for {args.train_steps} steps in {training['wall']:.1f} s")
    description = f"config.yaml's v2-small settings trained for {args.train_steps} steps in the benchmark"
    measure(args, workdir / "model", training, description)


def measure(args, model_dir, training, model_description):
    runs = []
    for repeat in range(args.repeats):
        outdir = WORK / "gen-out"
        shutil.rmtree(outdir, ignore_errors=True)
        outdir.mkdir(parents=True)
        run = run_python(["bench/worker.py", "generate", time.time(), model_dir, outdir], timeout=600)
        if run["rc"] != 0 or run["result"] is None:
            raise RuntimeError(f"generation failed (rc {run['rc']}): {run['err'][-3000:]}")
        record = dict(
            run["result"], wall=run["wall"], cpu=run["cpu"], load_before=run["load_before"], load_after=loadavg()
        )
        runs.append(record)
        log(
            f"generate: run {repeat + 1}/{args.repeats}: samples at {record['samples_done']:.1f} s, "
            f"all written at {record['done']:.1f} s"
        )
    save(
        "b4_generation",
        {
            "model": model_description,
            "train_steps": args.train_steps,
            "train_wall": training["wall"],
            "repeats": args.repeats,
            "to_samples": summary([r["samples_done"] for r in runs]),
            "to_all_written": summary([r["done"] for r in runs]),
            "wall": summary([r["wall"] for r in runs]),
            "cpu": summary([r["cpu"] for r in runs]),
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
