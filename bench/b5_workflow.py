"""Benchmark 5: Snakemake's own overhead, `snakemake -n` on a finished results tree (and on an empty one)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time

from common import CORES, REPO, WORK, log, save, summary

SNAKEMAKE = str(REPO / ".venv" / "bin" / "snakemake")


def snakemake(directory, *extra, timeout=1800):
    command = [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(directory),
        "--configfile",
        str(REPO / "tests" / "config" / "smoke.yaml"),
        "--cores",
        str(CORES),
        "--workflow-profile",
        "none",
        *extra,
    ]
    start = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, TF_USE_LEGACY_KERAS="1")
    )
    return time.perf_counter() - start, proc


def dry_runs(directory, repeats):
    times, last = [], None
    for _ in range(repeats):
        seconds, proc = snakemake(directory, "-n")
        if proc.returncode != 0:
            raise RuntimeError(f"snakemake -n failed: {proc.stderr[-3000:]}")
        times.append(seconds)
        last = proc.stdout + proc.stderr
    jobs = [line for line in last.splitlines() if "Nothing to be done" in line or line.strip().startswith("total")]
    return {"seconds": summary(times), "summary_lines": jobs[:3]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-full-run", action="store_true", help="only dry-run an empty tree (smoke)")
    args = parser.parse_args()

    results = {"repeats": args.repeats}
    empty = WORK / "wf-empty"
    shutil.rmtree(empty, ignore_errors=True)
    empty.mkdir(parents=True)
    results["empty_tree"] = dry_runs(empty, args.repeats)
    log(f"workflow: snakemake -n on an empty tree: {results['empty_tree']['seconds']['all']}")
    if not args.skip_full_run:
        complete = WORK / "wf-complete"
        shutil.rmtree(complete, ignore_errors=True)
        complete.mkdir(parents=True)
        seconds, proc = snakemake(complete)
        results["full_run"] = {"seconds": seconds, "rc": proc.returncode}
        log(f"workflow: smoke.yaml run: rc {proc.returncode} in {seconds:.0f} s")
        if proc.returncode == 0:
            results["complete_tree"] = dry_runs(complete, args.repeats)
            log(f"workflow: snakemake -n on the complete tree: {results['complete_tree']['seconds']['all']}")
        else:
            results["full_run"]["stderr_tail"] = proc.stderr.splitlines()[-20:]
    save("b5_workflow", results)


if __name__ == "__main__":
    main()
