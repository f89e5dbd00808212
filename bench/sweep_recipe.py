"""Recipe sweep for issue 11: train one grid point on one core, evaluate it against the item-4 targets.

    taskset -c 1 .venv/bin/python bench/sweep_recipe.py NAME '{"hparams": {...}, "level_lengths": [4, 16],
        "num_steps": 1500, "temperatures": [0.5, 0.8]}'
    .venv/bin/python bench/sweep_recipe.py --table          # bench/sweep/*.json -> bench/SWEEP.md

Needs the full-GMD tensors: snakemake results/tensors/v2/drums-4bar/train.npz ... --configfile bench/sweep_config.yaml.
Each point trains with beatvae.training.train_variant (one TF thread) from the v2-small variant of
config/config.yaml with the point's overrides, then runs beatvae.evaluation.evaluate_variant (Magenta's
reconstruction metrics + sample statistics + targets) at each sampling temperature. Raw JSON per point goes
to bench/sweep/NAME.json; models to bench/work/sweep/NAME (git-ignored).
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import sys
import time
from pathlib import Path

from common import REPO, WORK, load_config

SWEEP = REPO / "bench" / "sweep"
REPRESENTATION = "drums-4bar"  # the default beat variants' representation


def tensors(subset: str, split: str) -> str:
    """The one place that knows where the workflow writes a subset's windows."""
    return str(REPO / "results" / "tensors" / subset / REPRESENTATION / f"{split}.npz")


def point_variant(config: dict, spec: dict) -> dict:
    variant = copy.deepcopy(config["variants"][spec.get("base", "v2-small")])
    variant["subset"] = spec.get("subset", "v2")
    variant["hparams"].update(spec.get("hparams", {}))
    if "level_lengths" in spec:
        variant["model"]["level_lengths"] = list(spec["level_lengths"])
    variant["training"].update(
        num_steps=spec["num_steps"],
        log_every_steps=spec.get("log_every_steps", 50),
        checkpoint_every_steps=spec.get("checkpoint_every_steps", 500),
        max_minutes=None,  # points are compared at equal steps
    )
    return variant


def run_point(name: str, spec: dict) -> dict:
    from beatvae.training import TrainingRun, train_variant

    config = load_config()
    variant = point_variant(config, spec)
    subset = variant["subset"]
    work = WORK / "sweep" / name
    if spec.get("fresh", True):
        shutil.rmtree(work, ignore_errors=True)
    start = time.time()
    run = TrainingRun(
        variant,
        config["representations"][REPRESENTATION],
        tensors(subset, "train"),
        work / "checkpoints",
        work / "model",
        threads=1,
        process_start=start,
    )
    training = train_variant(run)
    train_wall = time.time() - start
    point = {"name": name, "spec": spec, "variant": variant, "train_wall_seconds": train_wall, "training": training}
    SWEEP.mkdir(exist_ok=True)
    (SWEEP / f"{name}.json").write_text(json.dumps(point, indent=1, default=str))
    return evaluate_point(name)


def evaluate_point(name: str, temperatures=None) -> dict:
    """(Re-)evaluates a trained point at its temperatures; imported late so a running sweep uses today's code."""
    from beatvae.evaluation import evaluate_variant

    config = load_config()
    point = json.loads((SWEEP / f"{name}.json").read_text())
    spec, subset = point["spec"], point["variant"]["subset"]
    work = WORK / "sweep" / name
    evaluation = dict(config["evaluation"], splits=["validation", "test"], num_samples=spec.get("num_samples", 256))
    splits = {split: tensors(subset, split) for split in evaluation["splits"]}
    reports = {}
    for temperature in temperatures or spec.get("temperatures", [config["generation"]["temperature"]]):
        eval_start = time.time()
        report = evaluate_variant(work / "model", splits, tensors(subset, "train"), evaluation, temperature, threads=1)
        report["eval_seconds"] = time.time() - eval_start
        reports[str(temperature)] = report
    point["evaluations"] = reports
    (SWEEP / f"{name}.json").write_text(json.dumps(point, indent=1, default=str))
    return point


def render_point(name: str, temperature: float, num_samples: int = 8) -> list[Path]:
    """Samples MIDIs as the workflow's generate rule would, at `temperature`, and their piano rolls."""
    from beatvae.generation import generate_samples
    from beatvae.model import TrainedModelDir
    from beatvae.render import plot_piano_roll

    config = load_config()
    model_dir = WORK / "sweep" / name / "model"
    out = WORK / "sweep" / name / f"samples-T{temperature}"
    out.mkdir(parents=True, exist_ok=True)
    midi = [out / f"sample_{i:02d}.mid" for i in range(num_samples)]
    generation = dict(config["generation"], temperature=temperature, num_samples=num_samples)
    generate_samples(TrainedModelDir.load(model_dir), generation, midi, out / "latents.npy")
    return [
        plot_piano_roll(path, path.with_suffix(".png"), title=f"{name} T={temperature} {path.stem}") for path in midi
    ]


def fmt(value, digits=2):
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table() -> str:
    """Markdown table over bench/sweep/*.json: one row per (point, temperature)."""
    rows = []
    header = (
        "| point | settings | steps | train s | T | val free acc | notes/bar (real) | classes ok | "
        "distance (2x base) | median nearest (0.75x real) | copies | targets met |"
    )
    rows.append(header)
    rows.append("|" + "|".join(["---"] * (header.count("|") - 1)) + "|")
    for path in sorted(SWEEP.glob("*.json")):  # points are lettered in the order they ran
        point = json.loads(path.read_text())
        hp = point["variant"]["hparams"]
        settings = (
            f"enc {hp['enc_rnn_size']} dec {hp['dec_rnn_size']} z {hp['z_size']} b {hp['batch_size']} "
            f"ll {point['variant']['model']['level_lengths']} lr {hp['learning_rate']}/{hp['decay_rate']} "
            f"fb {hp['free_bits']} beta {hp['max_beta']} ss {hp['sampling_rate']}"
        )
        for temperature, report in point["evaluations"].items():
            t = report.get("targets", {})
            rec = report["reconstruction"]["validation"]["free_running"]
            samples = report["samples"]
            baseline = report.get("real_baseline") or {}
            classes = t.get("class_rates", {})
            met = [k for k, v in t.items() if isinstance(v, dict) and v.get("met")]
            checks = [k for k, v in t.items() if isinstance(v, dict) and "met" in v]
            real_notes = samples["held_out_statistics"]["notes_per_bar"]
            median_floor = 0.75 * baseline.get("nearest_hamming", {}).get("median", float("nan"))
            distance_limit = 2 * baseline.get("distance", float("nan"))
            cells = [
                point["name"],
                settings,
                point["training"]["steps"],
                f"{point['train_wall_seconds']:.0f}",
                temperature,
                f"{rec['accuracy']:.3f}",
                f"{samples['statistics']['notes_per_bar']:.1f} ({real_notes:.1f})",
                f"{classes.get('value', '')}/{classes.get('threshold', '')}",
                f"{fmt(samples['distance_to_held_out']['overall'])} ({fmt(distance_limit)})",
                f"{fmt(report['memorization'].get('median_hamming'), 1)} ({fmt(median_floor, 1)})",
                report["memorization"]["exact_copies"],
                f"{len(met)}/{len(checks)}",
            ]
            rows.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if sys.argv[1] == "--table":
        print(table())
    elif sys.argv[1] == "--render":
        print(render_point(sys.argv[2], float(sys.argv[3])))
    elif sys.argv[1] == "--evaluate":
        evaluate_point(sys.argv[2], [float(t) for t in sys.argv[3:]] or None)
    else:
        result = run_point(sys.argv[1], json.loads(sys.argv[2]))
        print(json.dumps({"name": result["name"], "train_wall_seconds": result["train_wall_seconds"]}))
