"""TensorFlow plumbing shared by training, evaluation and bench: input pipeline, sessions, metrics.

Everything here is TF1 graph-mode code over Magenta's MusicVAE; callers pass the `tf` module they
got from `magenta_env.tensorflow_v1()` so the legacy-Keras switch is always set first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from beatvae.settings import DECODERS, checkpoint_name_step

# Teacher forcing feeds the true previous step to the decoder; free running feeds its own
# sample (Magenta's eval always does the latter when training used scheduled sampling).
DECODING_MODES = {"teacher_forced": 0.0, "free_running": 1.0}

# Magenta's metric-map entries that reconstruction metrics report, by our name: what every decoder
# reports, plus each decoder's own (settings.DECODERS: accuracy, or the groove losses per output part).
COMMON_METRICS = {"loss": "loss", "r_loss": "losses/r_loss", "kl_loss": "losses/kl_loss", "kl_bits": "losses/kl_bits"}


def reconstruction_metric_names(config) -> dict:
    """{our name: Magenta metric-map key} for the decoder of a Magenta Config."""
    decoder = config.model.decoder
    core = getattr(decoder, "_core_decoder", decoder)  # a hierarchical decoder reports its core's metrics
    return {**COMMON_METRICS, **DECODERS[type(core).__name__]["metrics"]}


def make_dataset(
    tf, windows_placeholders, batch_size: int, output_depth: int, seed: int, shuffle: bool = True, repeat: bool = True
):
    """tf.data pipeline over in-memory windows: shuffle, repeat, batch, expand labels, prefetch.

    Yields the keyword arguments of MusicVAE.train/eval (with `control_sequence` when the
    windows have controls).

    Batching happens before the one-hot expansion so it is one vectorised op per batch.
    """
    dataset = tf.data.Dataset.from_tensor_slices(tuple(windows_placeholders))
    if shuffle:
        dataset = dataset.shuffle(buffer_size=100_000, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=True)

    def to_model_tensors(batch_inputs, batch_labels, batch_lengths, *batch_controls):
        if batch_labels.shape.ndims == 2:  # class indices of one-hot outputs
            outputs = tf.one_hot(tf.cast(batch_labels, tf.int32), output_depth, dtype=tf.float32)
        else:
            outputs = tf.cast(batch_labels, tf.float32)
        tensors = {
            "input_sequence": tf.cast(batch_inputs, tf.float32),
            "output_sequence": outputs,
            "sequence_length": batch_lengths,
        }
        if batch_controls:
            tensors["control_sequence"] = tf.cast(batch_controls[0], tf.float32)
        return tensors

    # A fixed one-batch look-ahead, not AUTOTUNE: tf.data's autotuning thread backs off to long
    # sleeps, and closing the session waits for it to wake (17 s after 60 steps, 52 s after 2,400,
    # on every training job's critical path); expanding one batch is far cheaper than a step anyway.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.map(to_model_tensors).prefetch(1).with_options(options)


def windows_placeholders(tf, windows):
    """Placeholders fed once at iterator initialisation (keeps large arrays out of the GraphDef)."""
    names = ("window_inputs", "window_labels", "window_lengths", "window_controls")
    return tuple(
        tf.placeholder(tf.as_dtype(array.dtype), shape=array.shape, name=name)
        for array, name in zip(windows.model_arrays(), names, strict=False)
    )


def windows_feed(placeholders, windows) -> dict:
    """The feed dict that initialises an iterator over `windows_placeholders`."""
    return dict(zip(placeholders, windows.model_arrays(), strict=True))


def session_config(tf, threads: int | None):
    kwargs = {"allow_soft_placement": True}
    if threads:
        kwargs.update(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=max(1, min(threads, 2)))
    config = tf.ConfigProto(**kwargs)
    config.gpu_options.allow_growth = True
    return config


def metric_tensors(tf, metric_map: Mapping, name: str):
    """(value, update op) of a tf.metrics entry of Magenta's metric map.

    A hierarchical decoder reports the mean over its segments with a no-op update; the real
    updates are its per-segment entries (`segment/NNN/<name>`), so all of them are grouped.
    """
    value, _ = metric_map[name]
    updates = [update for key, (_, update) in metric_map.items() if key == name or key.endswith("/" + name)]
    return value, tf.group(*updates)


def checkpoint_step(path: str | None) -> int:
    """The global step in a checkpoint path (`.../model.ckpt-1200` -> 1200; none -> 0)."""
    return checkpoint_name_step(path)


def even_batch_size(num_windows: int, max_batch_size: int) -> int:
    """Largest batch size <= max that splits `num_windows` into the fewest, most even batches.

    The graph needs a fixed batch size; this drops at most (batches - 1) windows.
    """
    batches = math.ceil(num_windows / max_batch_size)
    return num_windows // batches


class ReconstructionGraph:
    """Magenta's eval loss and metric ops over fixed windows, in one decoding mode, built once.

    `measure(checkpoint)` restores the weights and streams the windows through: training calls
    it at every validation without rebuilding the graph, evaluation calls it once. Each call
    runs in a fresh session, so the sampled latents are the same every time: two checkpoints'
    measurements differ by their weights only.
    """

    def __init__(self, tf, config_for, windows, max_batch_size: int, mode: str, seed: int, threads=None):
        """`config_for(**hparam_overrides)` returns a fresh Magenta Config of the model."""
        self.tf, self.windows = tf, windows
        self.batch_size = even_batch_size(len(windows), max_batch_size)
        config = config_for(
            batch_size=self.batch_size, sampling_schedule="constant", sampling_rate=DECODING_MODES[mode]
        )
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(seed)
            music_vae = config.model
            music_vae.build(config.hparams, config.data_converter.output_depth, is_training=False)
            self.placeholders = windows_placeholders(tf, windows)
            dataset = make_dataset(
                tf,
                self.placeholders,
                self.batch_size,
                config.data_converter.output_depth,
                seed,
                shuffle=False,
                repeat=False,
            )
            self.iterator = tf.data.make_initializable_iterator(dataset)
            music_vae.eval(**self.iterator.get_next())
            self.metrics = {
                key: metric_tensors(tf, music_vae.metric_map, name)
                for key, name in reconstruction_metric_names(config).items()
            }
            self.updates = tf.group(*(update for _, update in self.metrics.values()))
            self.saver = tf.train.Saver()
            self.init_local = tf.local_variables_initializer()
        self.graph.finalize()
        self.session_config = session_config(tf, threads)

    def measure(self, checkpoint_path: str) -> dict:
        """Mean loss, reconstruction loss, KL (bits and nats), ELBO and the decoder's metrics (accuracy,
        or the groove decoder's hits/velocities/offsets losses) over the windows."""
        tf = self.tf
        with tf.Session(graph=self.graph, config=self.session_config) as session:
            self.saver.restore(session, checkpoint_path)
            session.run(self.init_local)
            session.run(self.iterator.initializer, windows_feed(self.placeholders, self.windows))
            batches = 0
            while True:
                try:
                    session.run(self.updates)
                    batches += 1
                except tf.errors.OutOfRangeError:
                    break
            values = {key: float(session.run(value)) for key, (value, _) in self.metrics.items()}
        values["kl_nats"] = values["kl_bits"] * math.log(2.0)
        # ELBO per window in nats: -(expected reconstruction NLL + KL(q(z|x) || p(z))).
        values["elbo"] = -(values["r_loss"] + values["kl_nats"])
        values["windows"] = batches * self.batch_size
        return values
