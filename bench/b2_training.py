"""Benchmarks 2 and 3: training start-up and throughput, ours (train_variant) vs Magenta's stock
music_vae_train.train loop, plus the input pipeline alone and Magenta's data.get_dataset check.

Every training measurement runs in a fresh subprocess (worker.py), fed the same windows.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import time
import zipfile

from common import CORES, SAMPLE_ZIP, WORK, load_representation, loadavg, log, run_python, save, summary

WINDOWS = WORK / "windows.npz"
TFRECORD = WORK / "get_dataset.tfrecord"


def prepare_inputs() -> int:
    """Windows of every sample file (the training set of both loops) and a small NoteSequence TFRecord."""
    import note_seq
    import tensorflow as tf

    from beatvae.dataset import make_converter, note_sequence_id, windows_from_note_sequences
    from beatvae.settings import window_steps

    representation = load_representation()
    sequences = []
    with zipfile.ZipFile(SAMPLE_ZIP) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".mid")):
            sequence = note_seq.midi_to_note_sequence(archive.read(name))
            sequence.filename, sequence.id = name, note_sequence_id(name)
            sequences.append(sequence)
    windows = windows_from_note_sequences(sequences, make_converter(representation), window_steps(representation))
    windows.save(WINDOWS)
    with tf.io.TFRecordWriter(str(TFRECORD)) as writer:
        for sequence in sequences[:16]:
            writer.write(sequence.SerializeToString())
    return len(windows)


def train_run(loop: str, size: str, steps: int, keep_model=None) -> dict:
    """One fresh-process training run of `loop` ("ours" or "stock"); times measured from process start.

    For the stock loop, `extra_work` is the time it spent on work ours does not do (the trial
    summary, graph.pbtxt + meta graph + step-0 checkpoint, step-1 summaries), and the
    `*_like_for_like` figures have it subtracted.
    """
    workdir = WORK / f"train-{loop}-{size}"
    shutil.rmtree(workdir, ignore_errors=True)
    # The spawn time passed on is taken a few ms before run_python creates the process: an upper bound.
    run = run_python(["bench/worker.py", loop, time.time(), size, WINDOWS, workdir, steps], timeout=1200)
    result = run["result"]
    if run["rc"] != 0 or result is None:
        raise RuntimeError(f"{loop} {size} failed (rc {run['rc']}): {run['err'][-3000:]}")
    record = {key: run[key] for key in ("wall", "cpu", "load_before")}
    # done: the training function returned (the rest of wall is interpreter exit)
    record.update(steps=steps, batch_size=result["batch_size"], done=result["done"], load_after=loadavg())
    if loop == "ours":
        record["first_step"] = result["seconds_to_first_step"]
        record["steady_examples_per_s"] = result["examples_per_second"][1:]
    else:
        ends = result["step_ends"]
        record["first_step"] = ends[0]
        record["steady_examples_per_s"] = [
            result["batch_size"] / (b - a) for a, b in zip(ends[:-1], ends[1:], strict=True)
        ]
        extra = result["extra_work"]
        record["extra_work"] = [{"what": what, "start": start, "end": end} for what, start, end in extra]
        for measure in ("first_step", "wall"):  # the stock-only work done by then, and the figure less it
            record[f"{measure}_extra"] = sum(end - start for _, start, end in extra if end <= record[measure])
            record[f"{measure}_like_for_like"] = record[measure] - record[f"{measure}_extra"]
    if keep_model and loop == "ours":
        shutil.rmtree(keep_model, ignore_errors=True)
        shutil.copytree(workdir / "model", keep_model)
    shutil.rmtree(workdir, ignore_errors=True)
    log(
        f"train: {loop} {size} {steps} step(s): first step {record['first_step']:.1f} s, wall {run['wall']:.1f} s, "
        f"cpu {run['cpu']:.1f} s, stock-only work {record.get('first_step_extra', 0):.1f} s, "
        f"steady {record['steady_examples_per_s']}"
    )
    return record


def startup_comparison(ours: list[dict], stock: list[dict]) -> dict:
    """Start-up figures of paired runs (run i of ours with run i of stock): raw and like for like."""

    def ratios(ours_key, stock_key):
        return summary([o[ours_key] / s[stock_key] for o, s in zip(ours, stock, strict=True)])

    def figures(runs, keys):
        return {key: summary([r[key] for r in runs]) for key in keys} | {"runs": runs}

    measures = ("first_step", "wall")
    return {
        "ours": figures(ours, [*measures, "cpu"]),
        "stock": figures(
            stock, [*measures, "cpu", *(f"{m}_{part}" for m in measures for part in ("extra", "like_for_like"))]
        ),
        **{f"ratio_{m}": ratios(m, m) for m in measures},
        **{f"ratio_{m}_like_for_like": ratios(m, f"{m}_like_for_like") for m in measures},
    }


def input_pipeline(batch_size: int, batches: int) -> dict:
    """examples/s of beatvae.training.make_dataset alone (no model), after one warm-up batch."""
    from beatvae import magenta_env
    from beatvae.dataset import Windows
    from beatvae.tfgraph import make_dataset, session_config, windows_placeholders

    tf = magenta_env.tensorflow_v1()
    windows = Windows.load(WINDOWS)
    with tf.Graph().as_default() as graph:
        placeholders = windows_placeholders(tf, windows)
        iterator = tf.data.make_initializable_iterator(make_dataset(tf, placeholders, batch_size, 512, seed=1))
        batch = iterator.get_next()
    rates = []
    with tf.Session(graph=graph, config=session_config(tf, CORES)) as session:
        session.run(
            iterator.initializer,
            dict(zip(placeholders, (windows.inputs, windows.labels, windows.lengths), strict=True)),
        )
        session.run(batch)
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(batches):
                session.run(batch)
            rates.append(batches * batch_size / (time.perf_counter() - start))
    log(f"train: input pipeline batch {batch_size}: {rates} examples/s")
    return {"batch_size": batch_size, "batches_per_run": batches, "examples_per_s": summary(rates)}


def get_dataset_check() -> dict:
    run = run_python(["-X", "faulthandler", "bench/worker.py", "get_dataset", TFRECORD], timeout=300)
    rc = run["rc"]
    outcome = {"rc": rc, "wall": run["wall"]}
    if isinstance(rc, int) and rc < 0:
        outcome["signal"] = signal.Signals(-rc).name
    outcome["ok"] = rc == 0
    outcome["result"] = run["result"]
    lines = [
        line
        for line in (run["err"] or "").splitlines()
        if line.strip() and "Warning" not in line and not line.startswith("Extension modules")
    ]
    fatal = [i for i, line in enumerate(lines) if line.startswith("Fatal Python error")]
    outcome["stderr_tail"] = lines[fatal[0] : fatal[0] + 25] if fatal else lines[-15:]  # faulthandler's Python stacks
    log(f"train: magenta data.get_dataset for drums: rc {rc} {outcome.get('signal', '')}")
    return outcome


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny-repeats", type=int, default=3)
    parser.add_argument("--reference", action="store_true", help="also run the reference-size model")
    parser.add_argument(
        "--reference-steps", type=int, default=3, help="steps of the throughput runs (first is warm-up)"
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    windows = prepare_inputs()
    log(f"train: {windows} training windows")
    results = {"windows": windows, "smoke": args.smoke, "threads": CORES}

    startup = {"ours": [], "stock": []}
    # --smoke: one 3-step run per loop gives both start-up and throughput; its tiny model is kept
    # for the generation benchmark.
    startup_steps = 3 if args.smoke else 1
    keep_model = WORK / "smoke-model" if args.smoke else None
    for _ in range(args.tiny_repeats):
        for loop in ("ours", "stock"):
            startup[loop].append(train_run(loop, "tiny", startup_steps, keep_model=keep_model))
    results["startup_tiny"] = startup_comparison(startup["ours"], startup["stock"])

    size = "reference" if args.reference else "tiny"
    steps = args.reference_steps if args.reference else 3
    if args.reference:
        ours = train_run("ours", "reference", steps)  # start-up and throughput from one run
        stock_one = train_run("stock", "reference", 1)
        stock_many = train_run("stock", "reference", steps)
        results["startup_reference"] = startup_comparison([ours], [stock_many])  # the same number of steps
        wall_diff_rate = (steps - 1) * stock_many["batch_size"] / (stock_many["wall"] - stock_one["wall"])
    elif args.smoke:
        ours, stock_many = startup["ours"][0], startup["stock"][0]
        wall_diff_rate = None
    else:
        ours = train_run("ours", "tiny", steps)
        stock_many = train_run("stock", "tiny", steps)
        wall_diff_rate = None
    model_rate = summary(ours["steady_examples_per_s"])
    stock_rate = summary(stock_many["steady_examples_per_s"])
    pipeline = input_pipeline(ours["batch_size"], 20 if args.reference else 50)
    results["throughput"] = {
        "size": size,
        "steps": steps,
        "ours": {"examples_per_s": model_rate, "run": ours},
        "stock": {
            "examples_per_s": stock_rate,
            "run": stock_many,
            "examples_per_s_from_wall_difference": wall_diff_rate,
        },
        "ratio_ours_over_stock": model_rate["median"] / stock_rate["median"],
        "input_pipeline": pipeline,
        "pipeline_over_model": pipeline["examples_per_s"]["min"] / model_rate["median"],
    }
    results["magenta_get_dataset"] = get_dataset_check()
    save("b2_training", results)


if __name__ == "__main__":
    main()
