"""Subprocess entry points, one fresh interpreter per measurement.

  worker.py ours  SPAWN SIZE WINDOWS WORKDIR STEPS   beatvae.training.train_variant
  worker.py stock SPAWN SIZE WINDOWS WORKDIR STEPS   magenta music_vae_train.train (stock loop)
  worker.py train WINDOWS WORKDIR STEPS              train_variant, v2-small settings (the generation model)
  worker.py get_dataset TFRECORD                     Magenta's data.get_dataset for drums
  worker.py generate SPAWN MODEL_DIR OUTDIR          8 samples + one 32-bar interpolation

SPAWN is the parent's time.time() just before it created this process; every time printed is
measured from it, so "process start" includes interpreter start-up and all imports.
Each prints one JSON line on stdout.
"""

import csv
import functools
import json
import sys
import time
from pathlib import Path

from common import CORES, load_config, load_representation, variant


def ours(spawn, size, windows_path, workdir, steps):
    from beatvae.model import TrainedModelDir
    from beatvae.training import TrainingRun, train_variant

    settings = variant(size or None, num_steps=steps, log_every_steps=1, checkpoint_every_steps=10**6)
    workdir = Path(workdir)
    summary = train_variant(
        TrainingRun(
            settings,
            load_representation(),
            windows_path,
            workdir / "checkpoints",
            workdir / "model",
            threads=CORES,
            process_start=spawn,
        )
    )
    with open(TrainedModelDir.load(workdir / "model").scalars) as handle:
        rows = list(csv.DictReader(handle))
    print(
        json.dumps(
            {
                "seconds_to_first_step": summary["seconds_to_first_step"],
                "done": time.time() - spawn,
                "examples_per_second": [float(r["examples_per_second"]) for r in rows],
                "batch_size": summary["batch_size"],
            }
        )
    )


def train(windows_path, workdir, steps):
    """config.yaml's v2-small settings for `steps` steps; the model lands in WORKDIR/model."""
    from beatvae.training import TrainingRun, train_variant

    settings = variant(num_steps=int(steps), checkpoint_every_steps=10**6)
    workdir = Path(workdir)
    summary = train_variant(
        TrainingRun(
            settings, load_representation(), windows_path, workdir / "checkpoints", workdir / "model", threads=CORES
        )
    )
    print(json.dumps(summary, default=str))


def stock_dataset_fn(tf, windows, batch_size, output_depth, seed):
    """The same pipeline as beatvae.training.make_dataset, shaped as the stock loop wants it:
    (inputs, outputs, controls, lengths) tuples, controls empty as DrumsConverter has none."""

    def dataset_fn():
        dataset = tf.data.Dataset.from_tensor_slices((windows.inputs, windows.labels, windows.lengths))
        dataset = dataset.shuffle(buffer_size=100_000, seed=seed, reshuffle_each_iteration=True).repeat()
        dataset = dataset.batch(batch_size, drop_remainder=True)

        def to_model_tensors(inputs, labels, lengths):
            inputs = tf.cast(inputs, tf.float32)
            controls = tf.zeros(tf.concat([tf.shape(inputs)[:2], [0]], 0), tf.float32)
            labels = tf.one_hot(tf.cast(labels, tf.int32), output_depth, dtype=tf.float32)
            return inputs, labels, controls, lengths

        return dataset.map(to_model_tensors, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    return dataset_fn


def timed(owner, name, spawn, intervals, label):
    """Measurement only: wraps owner.name so each call appends (label, start, end) to intervals."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.time() - spawn
        try:
            return original(*args, **kwargs)
        finally:
            intervals.append((label, start, time.time() - spawn))

    setattr(owner, name, wrapper)


def stock(spawn, size, windows_path, workdir, steps):
    """The stock loop, unchanged; only timers are added around it.

    The timers measure the work it does that train_variant does not (written files ours does not
    write): the trial summary (an event file with the hparams and a graph), graph.pbtxt + meta graph
    + the step-0 checkpoint (CheckpointSaverHook.after_create_session), and writing the summaries
    of step 1 (SummarySaverHook.after_run). b2_training subtracts them for a like-for-like figure.
    """
    from beatvae import magenta_env
    from beatvae.dataset import Windows
    from beatvae.model import build_config

    tf = magenta_env.tensorflow_v1()  # tf.compat.v1 + disable_v2_behavior()
    import tf_slim
    from magenta.models.music_vae import music_vae_train

    settings = variant(size or None)
    config = build_config(settings, load_representation())  # train_examples_path is set (non-None)
    windows = Windows.load(windows_path)
    hparams, output_depth = config.hparams, config.data_converter.output_depth
    dataset_fn = stock_dataset_fn(tf, windows, hparams.batch_size, output_depth, settings["training"]["seed"])

    step_ends, extra = [], []

    class StepTimes(tf.train.SessionRunHook):
        """Timestamps the end of every session.run; runs after the loop's own hooks."""

        def after_run(self, run_context, run_values):
            step_ends.append(time.time() - spawn)

    original_train = tf_slim.training.train

    def train_with_step_times(*args, hooks=None, **kwargs):
        return original_train(*args, hooks=list(hooks or []) + [StepTimes()], **kwargs)

    tf_slim.training.train = train_with_step_times
    timed(music_vae_train, "_trial_summary", spawn, extra, "trial_summary")
    timed(tf.train.CheckpointSaverHook, "after_create_session", spawn, extra, "graph_pbtxt_meta_graph_step0_checkpoint")
    timed(tf.train.SummarySaverHook, "after_run", spawn, extra, "write_summaries")
    music_vae_train.train(workdir, config, dataset_fn, num_steps=steps)
    result = {
        "step_ends": step_ends,
        "extra_work": extra,
        "done": time.time() - spawn,
        "batch_size": hparams.batch_size,
    }
    print(json.dumps(result))


def get_dataset(tfrecord):
    """Magenta's own input path for drums: TFRecord of NoteSequences -> DrumsConverter via py_function."""
    from beatvae import magenta_env
    from beatvae.model import build_config

    tf = magenta_env.tensorflow_v1()
    from magenta.models.music_vae import data

    config = build_config(variant("tiny"), load_representation())
    config = config._replace(train_examples_path=tfrecord)  # Config is a namedtuple
    dataset = data.get_dataset(config, is_training=True)
    batch = tf.data.make_one_shot_iterator(dataset).get_next()
    with tf.Session() as session:
        shapes = [tuple(x.shape) for x in session.run(batch)]
        session.run(batch)
    print(json.dumps({"ok": True, "batch_shapes": shapes}))


def generate(spawn, model_dir, outdir):
    from beatvae.generation import generate_samples, interpolate_variant
    from beatvae.model import TrainedModelDir

    generation = load_config()["generation"]
    outdir = Path(outdir)
    model = TrainedModelDir.load(model_dir)
    representation = model.representation
    samples = [outdir / f"sample_{i:02d}.mid" for i in range(generation["num_samples"])]
    latents = outdir / "latents.npy"
    generate_samples(model, generation, samples, latents)
    t_samples = time.time() - spawn
    steps = [outdir / f"step_{i:02d}.mid" for i in range(generation["interpolation"]["num_steps"])]
    interpolate_variant(model_dir, generation, outdir / "interpolation.mid", steps, {"latents": latents})
    done = time.time() - spawn
    missing = [str(p) for p in [*samples, *steps, outdir / "interpolation.mid"] if not p.exists()]
    if missing:
        raise SystemExit(f"generation wrote no {missing}")
    bars = len(steps) * representation["slice_bars"]
    print(
        json.dumps({"samples_done": t_samples, "done": done, "num_samples": len(samples), "interpolation_bars": bars})
    )


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command in ("ours", "stock"):
        spawn, size, windows_path, workdir, steps = args
        globals()[command](float(spawn), size, windows_path, workdir, int(steps))
    elif command in ("train", "get_dataset"):
        globals()[command](*args)
    elif command == "generate":
        generate(float(args[0]), *args[1:])
    else:
        raise SystemExit(f"unknown command {command}")
