"""Subprocess entry points, one fresh interpreter per measurement.

  worker.py ours  SPAWN SIZE WINDOWS WORKDIR STEPS   beatvae.training.train_variant
  worker.py stock SPAWN SIZE WINDOWS WORKDIR STEPS   magenta music_vae_train.train (stock loop)
  worker.py get_dataset TFRECORD                     Magenta's data.get_dataset for drums
  worker.py generate SPAWN MODEL_DIR OUTDIR          8 samples + one 32-bar interpolation

SPAWN is the parent's time.time() just before it created this process; every time printed is
measured from it, so "process start" includes interpreter start-up and all imports.
Each prints one JSON line on stdout.
"""

import json
import sys
import time


def ours(spawn, size, windows_path, workdir, steps):
    from pathlib import Path

    from common import converter, variant

    from beatvae.training import train_variant

    settings = variant(size or None, num_steps=steps, log_every_steps=1, checkpoint_every_steps=10**6)
    workdir = Path(workdir)
    summary = train_variant(settings, converter(), windows_path, workdir / "checkpoints", workdir / "model", threads=2, process_start=spawn)
    import csv

    with open(workdir / "model" / "scalars.csv") as handle:
        rows = list(csv.DictReader(handle))
    print(json.dumps({"seconds_to_first_step": summary["seconds_to_first_step"], "done": time.time() - spawn,
                      "examples_per_second": [float(r["examples_per_second"]) for r in rows], "batch_size": summary["batch_size"]}))


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
            return inputs, tf.one_hot(tf.cast(labels, tf.int32), output_depth, dtype=tf.float32), controls, lengths

        return dataset.map(to_model_tensors, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    return dataset_fn


def stock(spawn, size, windows_path, workdir, steps):
    from common import converter, variant

    from beatvae import magenta_env
    from beatvae.dataset import Windows
    from beatvae.model import build_config

    tf = magenta_env.tensorflow_v1()  # tf.compat.v1 + disable_v2_behavior()
    import tf_slim
    from magenta.models.music_vae import music_vae_train

    settings = variant(size or None)
    config = build_config(settings, converter())  # train_examples_path is set (non-None)
    windows = Windows.load(windows_path)
    dataset_fn = stock_dataset_fn(tf, windows, config.hparams.batch_size, config.data_converter.output_depth, settings["training"]["seed"])

    # Measurement only: a hook that timestamps the end of every session.run of the stock loop.
    step_ends = []

    class StepTimes(tf.train.SessionRunHook):
        def after_run(self, run_context, run_values):
            step_ends.append(time.time() - spawn)

    original_train = tf_slim.training.train

    def timed_train(*args, hooks=None, **kwargs):
        return original_train(*args, hooks=list(hooks or []) + [StepTimes()], **kwargs)

    tf_slim.training.train = timed_train
    music_vae_train.train(workdir, config, dataset_fn, num_steps=steps)
    print(json.dumps({"step_ends": step_ends, "done": time.time() - spawn, "batch_size": config.hparams.batch_size}))


def get_dataset(tfrecord):
    """Magenta's own input path for drums: TFRecord of NoteSequences -> DrumsConverter via py_function."""
    from common import converter, variant

    from beatvae import magenta_env
    from beatvae.model import build_config

    tf = magenta_env.tensorflow_v1()
    from magenta.models.music_vae import data

    config = build_config(variant("tiny"), converter())
    config = config._replace(train_examples_path=tfrecord)  # Config is a namedtuple
    dataset = data.get_dataset(config, is_training=True)
    batch = tf.data.make_one_shot_iterator(dataset).get_next()
    with tf.Session() as session:
        shapes = [tuple(x.shape) for x in session.run(batch)]
        session.run(batch)
    print(json.dumps({"ok": True, "batch_shapes": shapes}))


def generate(spawn, model_dir, outdir):
    from pathlib import Path

    from common import load_config

    from beatvae.generation import generate_samples, interpolate_variant
    from beatvae.model import TrainedModelDir

    generation = load_config()["generation"]
    outdir = Path(outdir)
    model = TrainedModelDir.load(model_dir)
    converter_settings = model.converter
    samples = [outdir / f"sample_{i:02d}.mid" for i in range(generation["num_samples"])]
    latents = outdir / "latents.npy"
    generate_samples(model, generation, samples, latents)
    t_samples = time.time() - spawn
    steps = [outdir / f"step_{i:02d}.mid" for i in range(generation["interpolation"]["num_steps"])]
    interpolate_variant(model_dir, generation, outdir / "interpolation.mid", steps, latents_path=latents)
    done = time.time() - spawn
    assert all(p.exists() for p in samples + steps + [outdir / "interpolation.mid"])
    print(json.dumps({"samples_done": t_samples, "done": done, "num_samples": len(samples),
                      "interpolation_bars": len(steps) * converter_settings["slice_bars"]}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command in ("ours", "stock"):
        spawn, size, windows_path, workdir, steps = args
        globals()[command](float(spawn), size, windows_path, workdir, int(steps))
    elif command == "get_dataset":
        get_dataset(*args)
    elif command == "generate":
        generate(float(args[0]), *args[1:])
    else:
        raise SystemExit(f"unknown command {command}")
