"""Fine-tuning v2 from v1 against v2 from scratch (issue 11, item 5), side by side on one core.

    nohup taskset -c 1 .venv/bin/python bench/finetune.py > /tmp/finetune.log 2>&1 &   # ~52 min
    .venv/bin/python bench/finetune.py --compare     # bench/finetune/*.json -> results.json again
    taskset -c 1 .venv/bin/python bench/finetune.py --evaluate-last NAME ...   # see evaluate_last
    taskset -c 1 .venv/bin/python bench/finetune.py --smoke   # 20 steps each, into bench/work/finetune-smoke/

Needs the full-GMD tensors (see `tensors()`): snakemake results/tensors/v1/drums-4bar/train.npz ... --configfile
bench/sweep_config.yaml. With config.yaml's v2-small recipe (on the v1 subset for a) (one TF thread, validation every
VALIDATE_EVERY steps), one process trains, in order:

  a-v1          v1 on the v1 windows, NUM_STEPS steps, validated on v1's validation windows;
  b-v2-scratch  v2 from scratch on the v2 windows, NUM_STEPS steps, validated on v2's validation windows;
  c-v2-finetune v2 from a's exported model (`TrainingRun(init_from=...)`: weights only; step,
                schedules and Adam start over), same steps and validation;
  d-v2-scratch-longer  b resumed (a copy of its checkpoints) to 2 x NUM_STEPS, so that b gets the wall
                time a + c took: the comparison with v1's pre-training counted.

b, c and d are then evaluated like the recipe sweep (`evaluate_variant`, validation + test, 256 samples,
temperature 0.75): the exported model (lowest validation loss) and, where that is an earlier one, the last
checkpoint too. Each run's figures go to bench/finetune/NAME.json (validation curve from the
checkpoint folder's scalars.csv, wall time of each validation from its TensorBoard events, wall time,
steps/s, evaluation), the comparison to bench/finetune/results.json; models stay in bench/work/finetune/.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import shutil
import statistics
import sys
import time
from pathlib import Path

from common import BENCH, REPO, WORK, load_config, machine

OUT = BENCH / "finetune"
MODELS = WORK / "finetune"
NUM_STEPS = 2400
VALIDATE_EVERY = 400
TEMPERATURE = 0.75
NUM_SAMPLES = 256
RUNS = {  # name: (config.yaml variant, init_from run, resume from run's checkpoints, steps in NUM_STEPS)
    "a-v1": ("v2-small", None, None, 1),
    "b-v2-scratch": ("v2-small", None, None, 1),
    "c-v2-finetune": ("v2-small", "a-v1", None, 1),
    "d-v2-scratch-longer": ("v2-small", None, "b-v2-scratch", 2),
}
EVALUATED = ("b-v2-scratch", "c-v2-finetune", "d-v2-scratch-longer")
# The default config keeps one beat recipe (v2-small); v1 is that recipe on every 4/4 performance.
SUBSETS = {"a-v1": "v1"}


REPRESENTATION = "drums-4bar"  # the default variants' representation


def tensors(subset: str, split: str) -> Path:
    """The one place that knows where the workflow writes a subset's windows."""
    return REPO / "results" / "tensors" / subset / REPRESENTATION / f"{split}.npz"


def run_variant(config: dict, base: str, num_steps: int) -> dict:
    variant = copy.deepcopy(config["variants"][base])
    variant["training"].update(
        num_steps=num_steps,
        validate_every_steps=VALIDATE_EVERY,
        checkpoint_every_steps=VALIDATE_EVERY,
        log_every_steps=50,
        max_minutes=None,  # runs are compared at equal steps
    )
    return variant


def train(name: str) -> dict:
    """Trains one run from scratch (or from its init_from / resumed run) and records its curve and timing."""
    from beatvae.checkpoints import events_dir, scalars_path
    from beatvae.training import TrainingRun, train_variant

    config = load_config()
    base, init_from, resume, lengths = RUNS[name]
    variant = run_variant(config, base, lengths * NUM_STEPS)
    subset = variant["subset"] = SUBSETS.get(name, variant["subset"])
    work = MODELS / name
    shutil.rmtree(work, ignore_errors=True)
    if resume:
        shutil.copytree(MODELS / resume / "checkpoints", work / "checkpoints")
    start = time.time()
    run = TrainingRun(
        variant,
        config["representations"][REPRESENTATION],
        tensors(subset, "train"),
        work / "checkpoints",
        work / "model",
        validation_windows=tensors(subset, "validation"),
        init_from=MODELS / init_from / "model" if init_from else None,
        name=base,
        threads=1,
        process_start=start,
    )
    training = train_variant(run)
    wall = time.time() - start
    rows = scalar_rows(scalars_path(run.checkpoint_dir), training["resumed_from_step"])
    seconds = validation_seconds(events_dir(run.checkpoint_dir, "validation"), start)
    curve = [
        {
            "step": row["step"],
            "seconds": seconds.get(row["step"]),
            "validation_loss": row["validation_loss"],
            "teacher_forced_accuracy": row["validation_accuracy"],
            "free_running_accuracy": row["validation_free_running_accuracy"],
        }
        for row in rows
        if row.get("validation_loss") is not None
    ]
    examples_per_second = [row["examples_per_second"] for row in rows if row.get("examples_per_second") is not None]
    record = {
        "name": name,
        "variant_base": base,
        "subset": subset,
        "init_from": init_from,
        "resumed_from": resume,
        "variant": variant,
        "wall_seconds": wall,
        "steps_this_run": training["steps_this_run"],
        "steps_per_second": training["steps_this_run"] / wall,
        "training_steps_per_second": statistics.median(examples_per_second) / variant["hparams"]["batch_size"],
        "seconds_to_first_step": training["seconds_to_first_step"],
        "curve": curve,
        "train_rows": [
            {k: row.get(k) for k in ("step", "loss", "accuracy", "sampling_probability", "kl_bits", "beta")}
            for row in rows
            if row.get("loss") is not None
        ],
        "training": training,
        "machine_end": machine(),
    }
    save(name, record)
    return record


def scalar_rows(path: Path, after_step: int) -> list[dict]:
    """The run's rows of a scalars.csv (steps after `after_step`), numbers as floats, empty cells dropped."""
    with open(path, newline="") as handle:
        rows = [
            {k: (int(v) if k == "step" else float(v)) for k, v in row.items() if v not in ("", None)}
            for row in csv.DictReader(handle)
        ]
    return [row for row in rows if row["step"] > after_step]


def validation_seconds(events_dir: Path, start: float) -> dict[int, float]:
    """{step: seconds from the run's start until that validation was logged}, from the TensorBoard events."""
    from beatvae import magenta_env

    tf = magenta_env.tensorflow_v1()
    seconds = {}
    for path in sorted(events_dir.glob("events.out.tfevents.*")):
        for event in tf.train.summary_iterator(str(path)):
            if event.HasField("summary") and event.wall_time >= start:
                seconds[int(event.step)] = event.wall_time - start
    return seconds


def evaluate(name: str) -> dict:
    """evaluate_variant on the run's exported model, as the recipe sweep does (validation + test, 256 samples)."""
    from beatvae.evaluation import evaluate_variant

    config = load_config()
    record = load(name)
    subset = record["subset"]
    evaluation = dict(config["evaluation"], splits=["validation", "test"], num_samples=NUM_SAMPLES)
    splits = {split: str(tensors(subset, split)) for split in evaluation["splits"]}
    start = time.time()
    report = evaluate_variant(
        MODELS / name / "model", splits, str(tensors(subset, "train")), evaluation, TEMPERATURE, threads=1
    )
    report["eval_seconds"] = time.time() - start
    record["evaluation"] = report
    save(name, record)
    return record


def evaluate_last(name: str) -> dict:
    """Where `export: best` chose an earlier checkpoint, also evaluates the run's last one (its `model-last/`)."""
    from beatvae.checkpoints import saved_checkpoints, scalars_path
    from beatvae.evaluation import evaluate_variant
    from beatvae.model import TrainedModelDir

    config = load_config()
    record = load(name)
    training, subset = record["training"], record["subset"]
    if training["exported"]["step"] == training["steps"]:
        return record
    checkpoints = MODELS / name / "checkpoints"
    model = MODELS / name / "model-last"
    last = dict(training, exported={"step": training["steps"], "reason": "bench: the last checkpoint"})
    last_checkpoint = dict(saved_checkpoints(checkpoints))[training["steps"]]
    TrainedModelDir.export(model, last_checkpoint, scalars_path(checkpoints), last)
    evaluation = dict(config["evaluation"], splits=["validation", "test"], num_samples=NUM_SAMPLES)
    splits = {split: str(tensors(subset, split)) for split in evaluation["splits"]}
    start = time.time()
    report = evaluate_variant(model, splits, str(tensors(subset, "train")), evaluation, TEMPERATURE, threads=1)
    report["eval_seconds"] = time.time() - start
    record["evaluation_last"] = report
    save(name, record)
    return record


def save(name: str, record: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=1, default=str) + "\n")


def load(name: str) -> dict | None:
    path = OUT / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def first_reaching(curve: list[dict], accuracy: float) -> dict | None:
    """The first validation at or above `accuracy` free-running, or None."""
    return next((point for point in curve if point["free_running_accuracy"] >= accuracy), None)


def at_seconds(curve: list[dict], seconds: float, offset: float = 0.0) -> dict | None:
    """The last validation logged within `seconds` (each point's time plus `offset`), or None."""
    reached = [p for p in curve if p["seconds"] is not None and p["seconds"] + offset <= seconds]
    return reached[-1] if reached else None


def targets_summary(record: dict, key: str = "evaluation") -> dict | None:
    """The item-4 figures of the run's exported model (`evaluation`) or of its last checkpoint (`evaluation_last`)."""
    report = record.get(key)
    if not report:
        return None
    targets = report.get("targets") or {}
    checks = {k: v for k, v in targets.items() if isinstance(v, dict) and "met" in v}
    reconstruction = report["reconstruction"]
    return {
        "exported_step": record["training"]["exported"]["step"] if key == "evaluation" else record["training"]["steps"],
        "free_running_accuracy": {s: reconstruction[s]["free_running"].get("accuracy") for s in reconstruction},
        "teacher_forced_accuracy": {s: reconstruction[s]["teacher_forced"].get("accuracy") for s in reconstruction},
        "notes_per_bar": report["samples"]["statistics"]["notes_per_bar"],
        "real_notes_per_bar": (report["samples"].get("held_out_statistics") or {}).get("notes_per_bar"),
        "distance": (report["samples"].get("distance_to_held_out") or {}).get("overall"),
        "baseline_distance": (report.get("real_baseline") or {}).get("distance"),
        "median_nearest_hamming": report["memorization"]["median_hamming"],
        "real_median_nearest_hamming": (report.get("real_baseline") or {}).get("nearest_hamming", {}).get("median"),
        "exact_copies": report["memorization"]["exact_copies"],
        "targets": checks,
        "targets_met": sorted(k for k, v in checks.items() if v.get("met")),
        "targets_not_met": sorted(k for k, v in checks.items() if not v.get("met")),
        "eval_seconds": report.get("eval_seconds"),
    }


def compare() -> dict:
    """b against c at equal steps and equal wall time (a's cost counted and not), from the per-run JSON."""
    runs = {name: load(name) for name in RUNS}
    a, b, c, d = (runs[name] for name in RUNS)
    start = OUT / "machine_start.json"
    result = {
        "command": "taskset -c 1 .venv/bin/python bench/finetune.py",
        "machine_start": json.loads(start.read_text()) if start.exists() else None,
        "recipe": {key: next(r for r in runs.values() if r)["variant"][key] for key in ("model", "hparams", "training")}
        if any(runs.values())
        else None,
        "num_steps": NUM_STEPS,
        "validate_every_steps": VALIDATE_EVERY,
        "temperature": TEMPERATURE,
        "num_samples": NUM_SAMPLES,
        "runs": {
            name: {
                key: run[key]
                for key in ("init_from", "resumed_from", "wall_seconds", "steps_this_run", "steps_per_second")
                + ("training_steps_per_second", "seconds_to_first_step", "curve")
            }
            | {"windows": run["training"]["windows"], "validation_windows": run["training"]["validation_windows"]}
            | {"exported": run["training"]["exported"], "targets": targets_summary(run)}
            | {"targets_last_checkpoint": targets_summary(run, "evaluation_last")}
            | {"final_train_accuracy": run["train_rows"][-1]["accuracy"] if run["train_rows"] else None}
            for name, run in runs.items()
            if run
        },
    }
    if b and c:
        final_b = b["curve"][-1]
        match = first_reaching(c["curve"], final_b["free_running_accuracy"])
        equal = {
            "b_final_free_running_accuracy": final_b["free_running_accuracy"],
            "c_final_free_running_accuracy": c["curve"][-1]["free_running_accuracy"],
            "c_first_step_reaching_b_final": match and match["step"],
            "c_first_step_loss_at_or_below_b_final": next(
                (p["step"] for p in c["curve"] if p["validation_loss"] <= final_b["validation_loss"]), None
            ),
            "c_first_step_teacher_forced_reaching_b_final": next(
                (p["step"] for p in c["curve"] if p["teacher_forced_accuracy"] >= final_b["teacher_forced_accuracy"]),
                None,
            ),
            "c_lowest_validation_loss_step": min(c["curve"], key=lambda p: p["validation_loss"])["step"],
            "b_final": final_b,
            "c_final": c["curve"][-1],
            "c_seconds_reaching_b_final": match and match["seconds"],
            "b_wall_seconds": b["wall_seconds"],
            "c_wall_seconds": c["wall_seconds"],
            "c_at_b_wall_time": at_seconds(c["curve"], b["wall_seconds"]),
        }
        if a:
            # v1's pre-training counted: c's validations happen a's wall time later; b continued (d) gets that time.
            total = a["wall_seconds"] + c["wall_seconds"]
            equal |= {
                "a_wall_seconds": a["wall_seconds"],
                "a_plus_c_wall_seconds": total,
                "c_counted_at_b_wall_time": at_seconds(c["curve"], b["wall_seconds"], offset=a["wall_seconds"]),
            }
            if d:
                d_curve = b["curve"] + [dict(p, seconds=p["seconds"] + b["wall_seconds"]) for p in d["curve"]]
                equal |= {
                    "b_continued_wall_seconds": b["wall_seconds"] + d["wall_seconds"],
                    "b_continued_at_a_plus_c_wall_time": at_seconds(d_curve, total),
                    "b_continued_final": d_curve[-1],
                }
        result["comparison"] = equal
    result["machine_end"] = machine()
    (OUT / "results.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    return result


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    global OUT, MODELS, NUM_STEPS, VALIDATE_EVERY, NUM_SAMPLES
    if sys.argv[1:] == ["--compare"]:
        print(json.dumps(compare()["comparison"], indent=1, default=str))
        return
    if sys.argv[1:2] == ["--evaluate-last"]:
        for name in sys.argv[2:]:
            evaluate_last(name)
        compare()
        return
    if sys.argv[1:] not in ([], ["--smoke"]):
        raise SystemExit(f"unknown arguments {sys.argv[1:]}; see {__file__}'s docstring")
    if sys.argv[1:] == ["--smoke"]:  # checks the whole chain quickly; its figures mean nothing
        OUT, MODELS = WORK / "finetune-smoke", WORK / "finetune-smoke" / "models"
        NUM_STEPS, VALIDATE_EVERY, NUM_SAMPLES = 20, 10, 16
    start = time.time()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "machine_start.json").write_text(json.dumps(machine(), indent=1) + "\n")
    for name in RUNS:
        logging.info("=== training %s", name)
        record = train(name)
        logging.info("=== %s: %.0f s, curve %s", name, record["wall_seconds"], record["curve"])
        if name in EVALUATED:
            logging.info("=== evaluating %s", name)
            evaluate(name)
            evaluate_last(name)
        compare()
    logging.info("=== done in %.0f s", time.time() - start)


if __name__ == "__main__":
    main()
