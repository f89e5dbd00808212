"""Realism against training steps (issue 22 items 3 and 4): sample every kept checkpoint of a trained
recipe point and judge the samples as the evaluation does (beatvae.realism, beatvae.metrics).

    .venv/bin/python bench/realism_curve.py train NAME '{"hparams": {"free_bits": 16}}'  # -> bench/work/realism/NAME
    .venv/bin/python bench/realism_curve.py POINT_DIR [POINT_DIR ...]     # -> bench/realism/NAME.json
    .venv/bin/python bench/realism_curve.py --every 2400 POINT_DIR        # only checkpoints at multiples of 2400
    .venv/bin/python bench/realism_curve.py seeds POINT_DIR 1600,2400 1,2,3,4  # -> bench/realism/NAME.seeds.json
    .venv/bin/python bench/realism_curve.py temperatures POINT_DIR 1200 0.5,1.0  # -> NAME.temperatures.json
    .venv/bin/python bench/realism_curve.py --table                       # bench/realism/*.json -> table

A POINT_DIR holds `model/` (an exported model folder: its settings) and `checkpoints/` (every
checkpoint the run kept, `training.checkpoints_to_keep` large enough); `point.json` beside them
names the recipe. Samples: `evaluation.num_samples` at `evaluation.temperature` and seed of
config/config.yaml, against the subset's held-out (validation + test) and training windows of
results/tensors/<subset>/drums-4bar/ (make them with the workflow first). Points train on one
thread; their figures per step convert to CPU minutes with the recipe's steps/s on an idle core
(bench/REALISM.md states them).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from common import REPO, WORK, load_config

OUT = REPO / "bench" / "realism"
REPRESENTATION = "drums-4bar"


def train(name: str, overrides: dict) -> Path:
    """Trains config.yaml's v2-small with `overrides` (hparams, level_lengths, training, subset, init_from: a
    model folder to start from, train_windows: another training windows file, e.g. bench/augment.py's,
    validation_windows: another validation windows file, sample_control: the control frame every step
    of a sample gets, for windows with controls, e.g. bench/style_control.py's) on one thread, keeping a
    checkpoint every 400 steps; returns the point's folder."""
    import copy

    from beatvae.training import TrainingRun, train_variant

    config = load_config()
    variant = copy.deepcopy(config["variants"]["v2-small"])
    variant["subset"] = overrides.get("subset", variant["subset"])
    variant["hparams"].update(overrides.get("hparams", {}))
    if "level_lengths" in overrides:
        variant["model"]["level_lengths"] = overrides["level_lengths"]
    variant["training"].update(
        # Points are compared at equal steps: no time limit unless the point asks for one.
        {
            "checkpoint_every_steps": 400,
            "checkpoints_to_keep": 100,
            "max_minutes": None,
            **overrides.get("training", {}),
        }
    )
    point = WORK / "realism" / name
    tensors = REPO / "results" / "tensors" / variant["subset"] / REPRESENTATION
    start = time.time()
    point.mkdir(parents=True, exist_ok=True)
    # Written first, so checkpoints can be measured (with their training minutes) while it trains.
    (point / "started.json").write_text(json.dumps({"time": start}))
    (point / "point.json").write_text(json.dumps({"name": name, "variant": variant, "overrides": overrides}, indent=1))
    run = TrainingRun(
        variant,
        config["representations"][REPRESENTATION],
        overrides.get("train_windows", tensors / "train.npz"),
        point / "checkpoints",
        point / "model",
        validation_windows=overrides.get("validation_windows", tensors / "validation.npz"),
        name=name,
        threads=1,
        process_start=start,
        init_from=overrides.get("init_from"),
    )
    summary = train_variant(run)
    record = {
        "name": name,
        "variant": variant,
        "overrides": overrides,
        "wall": time.time() - start,
        "training": summary,
    }
    (point / "point.json").write_text(json.dumps(record, indent=1, default=str))
    return point


def windows(subset: str, split: str):
    from beatvae.dataset import Windows

    return Windows.load(REPO / "results" / "tensors" / subset / REPRESENTATION / f"{split}.npz")


def checkpoints(point: Path) -> list[tuple[int, str]]:
    """(step, checkpoint prefix) of every checkpoint kept in POINT/checkpoints, by step."""
    from beatvae.checkpoints import saved_checkpoints

    return saved_checkpoints(point / "checkpoints")


def rolls_and_sources(*splits):
    """Drum rolls and each window's performance, over `splits` (Windows) together."""
    return np.concatenate([w.drum_rolls() for w in splits]), np.concatenate([w.sources for w in splits])


def judge(samples, train, held_out, seed: int) -> dict:
    """The realism figures of `samples` against (rolls, performances) of training and held-out windows."""
    from beatvae.metrics import nearest_training_windows, sample_statistics
    from beatvae.realism import realism_report

    report = realism_report(samples, train[0], held_out[0], train[1], held_out[1], seed=seed)
    nearest = nearest_training_windows(samples, train[0])
    report["notes_per_bar"] = sample_statistics(samples)["notes_per_bar"]
    report["median_nearest_hamming"] = float(np.median(nearest.distance))
    report["exact_copies"] = int(np.sum(nearest.distance == 0))
    return report


def sample_rolls_with_control(model, num_samples: int, temperature: float, seed: int, control) -> np.ndarray:
    """beatvae.evaluation.sample_rolls for a model trained on windows with controls: every step of
    every sample gets the control frame `control` (e.g. bench/style_control.py's rock beat)."""
    from magenta.models.music_vae import TrainedModel

    from beatvae import magenta_env
    from beatvae.evaluation import decoded_rolls
    from beatvae.model import sample_latents, seeded_graphs
    from beatvae.settings import window_steps

    tf = magenta_env.tensorflow_v1()
    config = model.config()
    # DrumsConverter makes no controls, so its Config says depth 0; Magenta's TrainedModel sizes its
    # control input from it.
    config.data_converter._control_depth = len(control)
    with seeded_graphs(tf, seed):
        trained = TrainedModel(config, batch_size=min(num_samples, 64), checkpoint_dir_or_path=model.checkpoint)
    steps = window_steps(model.representation)
    c_input = np.tile(np.asarray(control, np.float32), (steps, 1))
    return decoded_rolls(trained, sample_latents(num_samples, model.z_size, seed), steps, temperature, c_input)


def measurer(point: Path):
    """`measure(checkpoint, seed)`: the figures of 256 samples (evaluation.num_samples at
    evaluation.temperature) of one of POINT's checkpoints, against its subset's real windows."""
    from beatvae.evaluation import sample_rolls
    from beatvae.model import TrainedModelDir

    config = load_config()
    evaluation = config["evaluation"]
    record = json.loads((point / "point.json").read_text())
    variant = record["variant"]
    control = record.get("overrides", {}).get("sample_control")
    if (point / "model").exists():
        model = TrainedModelDir.load(point / "model")
    else:  # still training: no exported model yet, only checkpoints
        model = TrainedModelDir(point / "model", variant, config["representations"][REPRESENTATION], "", {})
    subset = variant["subset"]
    train = rolls_and_sources(windows(subset, "train"))
    held_out = rolls_and_sources(windows(subset, "validation"), windows(subset, "test"))

    def measure(checkpoint: str, seed: int, temperature: float | None = None) -> dict:
        model_at = dataclasses.replace(model, checkpoint=checkpoint)
        temperature = evaluation["temperature"] if temperature is None else temperature
        if control is None:
            samples = sample_rolls(model_at, evaluation["num_samples"], temperature, seed)
        else:
            samples = sample_rolls_with_control(model_at, evaluation["num_samples"], temperature, seed, control)
        return judge(samples, train, held_out, seed)

    return evaluation, measure


def training_minutes(point: Path, checkpoint: str) -> float | None:
    """Minutes from the start of training to when `checkpoint` was written (None for points trained
    before the start was recorded)."""
    started = point / "started.json"
    if not started.exists():
        return None
    return (Path(checkpoint + ".index").stat().st_mtime - json.loads(started.read_text())["time"]) / 60


def curve(point: Path, every: int = 1) -> dict:
    """Measures every checkpoint of POINT whose step is a multiple of `every`."""
    evaluation, measure = measurer(point)
    # Steps measured by an earlier call (of a run still training) are kept, not sampled again.
    earlier = OUT / f"{point.name}.json"
    rows = json.loads(earlier.read_text())["rows"] if earlier.exists() else []
    measured = {row["step"] for row in rows}
    for step, checkpoint in checkpoints(point):
        if step % every or step in measured:
            continue
        start = time.time()
        figures = measure(checkpoint, evaluation["seed"])
        rows.append({"step": step, "minutes": training_minutes(point, checkpoint), **figures,
                     "seconds": time.time() - start})  # fmt: skip
        print(point.name, step, rows[-1]["two_sample"]["accuracy"], flush=True)
    result = {
        "name": point.name,
        "point": json.loads((point / "point.json").read_text()),
        "samples": {k: evaluation[k] for k in ("num_samples", "temperature", "seed")},
        "rows": sorted(rows, key=lambda row: row["step"]),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / f"{point.name}.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def measured_grid(point: Path, steps: list[int], settings: list[dict], name: str, fixed: str) -> dict:
    """The figures at chosen checkpoints for each sampling setting (`{"seed": 3}` or
    `{"temperature": 0.9}`; the other one from the evaluation config, named by `fixed`), written to
    bench/realism/POINT.NAME.json."""
    evaluation, measure = measurer(point)
    checkpoint = dict(checkpoints(point))
    rows = []
    for step in steps:
        for setting in settings:
            sampling = {"seed": evaluation["seed"], **setting}
            rows.append({"step": step, **setting, **measure(checkpoint[step], **sampling)})
            print(point.name, step, *setting.values(), rows[-1]["two_sample"]["accuracy"], flush=True)
    result = {"name": point.name, fixed: evaluation[fixed], "rows": rows}
    (OUT / f"{point.name}.{name}.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def seeds(point: Path, steps: list[int], sampling_seeds: list[int]) -> dict:
    """The same figures at chosen checkpoints over several sampling seeds (each seeds the latents,
    the decoder's sampling and the classifier's draws): how much of a difference is noise."""
    return measured_grid(point, steps, [{"seed": seed} for seed in sampling_seeds], "seeds", "temperature")


def temperatures(point: Path, steps: list[int], values: list[float]) -> dict:
    """The figures at chosen checkpoints over sampling temperatures (evaluation.seed): does sampling
    hotter or colder buy realism at the steps the time limit reaches?"""
    return measured_grid(point, steps, [{"temperature": value} for value in values], "temperatures", "seed")


def numbers(text: str, kind: type) -> list:
    """A command line's comma-separated list: "1200,1600" -> [1200, 1600]."""
    return [kind(item) for item in text.split(",")]


STRUCTURE = ("clean_backbeat", "bar_change", "fill", "steady_pulse")


def table() -> str:
    """bench/realism/*.json as markdown rows: one per (point, checkpoint)."""
    lines = [
        "| point | step | two-sample (floor) | clean backbeat | bar change | fill | steady pulse | "
        "notes/bar | median nearest | copies |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(OUT.glob("*.json")):
        if path.name.endswith(".seeds.json"):
            continue
        result = json.loads(path.read_text())
        for row in result["rows"]:
            two_sample, figures = row["two_sample"], row["structure"]
            structure = " | ".join(
                f"{figures['samples'][name]:.2f} ({figures['held_out'][name]:.2f})" for name in STRUCTURE
            )
            lines.append(
                f"| {result['name']} | {row['step']} | "
                f"{two_sample['accuracy']:.3f} ({two_sample['floor']:.3f}) | {structure} | "
                f"{row['notes_per_bar']:.1f} | {row['median_nearest_hamming']:.0f} | {row['exact_copies']} |"
            )
    return "\n".join(lines)


def seeds_table() -> str:
    """bench/realism/*.seeds.json as markdown rows: per (point, checkpoint), means over sampling seeds."""
    from statistics import mean

    lines = [
        "| point | step | two-sample, mean (range) | clean backbeat | bar change | fill | steady pulse | "
        "notes/bar | median nearest | copies (all seeds) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(OUT.glob("*.seeds.json")):
        result = json.loads(path.read_text())
        by_step: dict[int, list] = {}
        for row in result["rows"]:
            by_step.setdefault(row["step"], []).append(row)
        for step, rows in by_step.items():
            accuracy = [row["two_sample"]["accuracy"] for row in rows]
            structure = " | ".join(
                f"{mean(row['structure']['samples'][name] for row in rows):.3f}" for name in STRUCTURE
            )
            lines.append(
                f"| {result['name']} | {step} | {mean(accuracy):.3f} ({min(accuracy):.3f}-{max(accuracy):.3f}, "
                f"{len(rows)} seeds) | {structure} | {mean(row['notes_per_bar'] for row in rows):.1f} | "
                f"{mean(row['median_nearest_hamming'] for row in rows):.0f} | "
                f"{sum(row['exact_copies'] for row in rows)} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1] == "seeds":  # seeds POINT_DIR STEP,STEP SEED,SEED
        seeds(Path(sys.argv[2]), numbers(sys.argv[3], int), numbers(sys.argv[4], int))
    elif sys.argv[1] == "temperatures":  # temperatures POINT_DIR STEP,STEP T,T
        temperatures(Path(sys.argv[2]), numbers(sys.argv[3], int), numbers(sys.argv[4], float))
    elif sys.argv[1] == "train":  # train NAME OVERRIDES [--no-curve]
        point = train(sys.argv[2], json.loads(sys.argv[3]))
        if "--no-curve" not in sys.argv:
            curve(point)
    elif sys.argv[1] == "--every":  # --every STEPS POINT_DIR ...
        for argument in sys.argv[3:]:
            curve(Path(argument), int(sys.argv[2]))
    elif sys.argv[1] == "--table":
        print(table(), seeds_table(), sep="\n\n")
    else:
        for argument in sys.argv[1:]:
            curve(Path(argument))
