"""Magenta MusicVAE Configs built from a variant of the workflow config, and trained model folders.

Magenta is imported where a Config is built, not at the top: readers of a model folder that need
no TensorFlow (the loss report, benchmarks) load `TrainedModelDir` in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from beatvae import magenta_env
from beatvae.checkpoints import copy_checkpoint
from beatvae.dataset import make_converter
from beatvae.settings import (
    CHECKPOINT_STATE_FILE,
    CONVERTERS,
    SCALARS_FILE,
    TRAINING_KEYS,
    TRAINING_SUMMARY_FILE,
    check_variant,
    model_hparams,
    newest_checkpoint_name,
    settings_digest,
    settings_parts,
)

if TYPE_CHECKING:
    from magenta.models.music_vae import configs


@functools.cache
def _observed_music_vae() -> type:
    """Magenta's MusicVAE, keeping the metric and scalar tensors its loss computation builds.

    `MusicVAE.train` discards the decoder's accuracy metrics; the training loop logs them, and
    evaluation reads both maps, so they are kept on the instance. The class is made on first use:
    its base class is Magenta's, imported only where a Config is built.
    """
    from magenta.models.music_vae.base_model import MusicVAE

    class ObservedMusicVAE(MusicVAE):
        def _compute_model_loss(self, *args, **kwargs):
            self.metric_map, self.scalars = super()._compute_model_loss(*args, **kwargs)
            return self.metric_map, self.scalars

    return ObservedMusicVAE


def training_settings(variant: Mapping) -> dict:
    return {key: copy.deepcopy(variant[key]) for key in TRAINING_KEYS}


def windows_digest(windows) -> str:
    """Content digest of training windows (inputs, labels, lengths, controls; in order, as shuffling sees them)."""
    digest = hashlib.sha256()
    for array in windows.model_arrays():
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def fingerprint_parts(
    variant: Mapping, representation: Mapping, training_windows: str, init_from: str | None = None
) -> dict:
    """A digest of each thing the trained weights depend on, by name (the log says which changed).

    `training_windows` is `windows_digest` of the training data; `init_from` the fingerprint of the
    model the weights started from, if any. `num_steps` and the other loop settings are left out
    so a run can be extended and its logging changed without starting over.
    """
    parts = {**settings_parts(variant, representation), "training_windows": training_windows}
    if init_from:
        parts["init_from"] = init_from
    return parts


def fingerprint(parts: Mapping) -> str:
    """Identifies the weights a checkpoint holds: one digest over `fingerprint_parts`."""
    return settings_digest(dict(parts))


def build_config(variant: Mapping, representation: Mapping, **hparam_overrides) -> configs.Config:
    """A fresh Magenta Config for `variant` over the windows of `representation` (a named entry of
    the config's `representations`).

    Never reuse one: TrainedModel deep-copies Configs."""
    from magenta.common import merge_hparams
    from magenta.contrib import training as contrib_training
    from magenta.models.music_vae import configs, lstm_models

    check_variant("(this)", variant, representation)
    structure = variant["model"]
    hparams = dict(model_hparams(variant, representation), **hparam_overrides)
    level_lengths = structure.get("level_lengths")
    # The representation decides how outputs are read: one-hot drum classes, or hit/velocity/offset values.
    decoder_name = structure.get("decoder") or CONVERTERS[representation["converter"]]["decoder"]
    core_decoder = getattr(lstm_models, decoder_name)()
    if level_lengths:
        decoder = lstm_models.HierarchicalLstmDecoder(
            core_decoder,
            level_lengths=list(level_lengths),
            disable_autoregression=structure["disable_autoregression"],
        )
    else:
        decoder = core_decoder
    encoder = getattr(lstm_models, structure["encoder"])()
    return configs.Config(
        model=_observed_music_vae()(encoder, decoder),
        hparams=merge_hparams(lstm_models.get_default_hparams(), contrib_training.HParams(**hparams)),
        note_sequence_augmenter=None,
        data_converter=make_converter(representation),
        # music_vae_train writes this into a summary; our loop reads precomputed tensors instead.
        train_examples_path="precomputed-tensors",
        eval_examples_path="precomputed-tensors",
    )


@contextlib.contextmanager
def seeded_graphs(tf, seed: int):
    """Makes the graphs built inside the block sample reproducibly from `seed`.

    TrainedModel builds its own graph, so a seed set on the default graph never reaches its
    sampling ops: every tf.Graph created here gets `seed` as its graph-level seed. That alone
    is not enough: Magenta's decoder draws a fresh stateful sampler seed at every step of a
    tf.while_loop that runs up to 32 iterations in parallel, so the draws reach the steps in
    a different order on each run; decoding is made sequential while the graph is built.
    """
    from magenta.contrib import seq2seq

    original_init = tf.Graph.__init__
    original_decode = seq2seq.dynamic_decode

    def init_with_seed(graph, *args, **kwargs):
        original_init(graph, *args, **kwargs)
        graph.seed = seed

    def sequential_decode(*args, **kwargs):
        return original_decode(*args, **dict(kwargs, parallel_iterations=1))

    tf.Graph.__init__ = init_with_seed
    seq2seq.dynamic_decode = sequential_decode
    try:
        yield
    finally:
        tf.Graph.__init__ = original_init
        seq2seq.dynamic_decode = original_decode


def sample_latents(num_samples: int, z_size: int, seed: int) -> np.ndarray:
    """The standard-normal latents that generation and evaluation decode for `seed`."""
    return np.random.default_rng(seed).standard_normal((num_samples, z_size)).astype(np.float32)


# training.json's key for the representation a model was trained on; versions before the rename
# wrote it as `converter`, and their model folders still load.
SUMMARY_REPRESENTATION_KEY = "representation"
OLD_SUMMARY_REPRESENTATION_KEY = "converter"


def summary_representation(summary: Mapping) -> dict:
    """The representation a training.json records, under its current key or its old one."""
    if SUMMARY_REPRESENTATION_KEY in summary:
        return summary[SUMMARY_REPRESENTATION_KEY]
    return summary[OLD_SUMMARY_REPRESENTATION_KEY]


@dataclass(frozen=True)
class TrainedModelDir:
    """A trained model folder (results/models/<variant>): its settings, representation and checkpoint.

    The one owner of the folder's layout: one checkpoint, TensorFlow's state file naming it,
    training.json (the run's summary, with the settings it was trained with) and scalars.csv. `export`
    writes it; `load` reads training.json and the checkpoint index once, and every consumer
    (generation, evaluation, fine-tuning, the loss report) takes this value instead of a folder path
    plus settings.
    """

    path: Path
    variant: dict  # the variant's model, hparams and training sections, as trained
    representation: dict  # the representation its windows were made with
    checkpoint: str  # checkpoint prefix, e.g. results/models/v1/model.ckpt-400
    summary: dict = field(repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainedModelDir:
        path = Path(path)
        summary_path, index_path = path / TRAINING_SUMMARY_FILE, path / CHECKPOINT_STATE_FILE
        for required in (summary_path, index_path):
            if not required.exists():
                raise FileNotFoundError(f"{path} is not a trained model folder: {required.name} is missing")
        summary = json.loads(summary_path.read_text())
        name = newest_checkpoint_name(path)
        if name is None:
            raise ValueError(f"{index_path} names no model_checkpoint_path")
        return cls(path, summary["variant"], summary_representation(summary), str(path / name), summary)

    @staticmethod
    def export(path: str | os.PathLike, checkpoint_path: str, scalars: Path, summary: Mapping) -> None:
        """Writes a model folder at `path` from one checkpoint, the scalars CSV and the run's summary,
        all at once by a rename (a reader never sees half a folder)."""
        path = Path(path)
        staging = path.with_name(f".{path.name}.exporting")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        copy_checkpoint(checkpoint_path, staging)
        name = Path(checkpoint_path).name
        (staging / CHECKPOINT_STATE_FILE).write_text(
            f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n'
        )
        shutil.copy2(scalars, staging / SCALARS_FILE)
        (staging / TRAINING_SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str))
        shutil.rmtree(path, ignore_errors=True)
        staging.rename(path)

    @property
    def scalars(self) -> Path:
        """The training and validation scalars of the runs that trained it (a copy of the checkpoint folder's)."""
        return self.path / SCALARS_FILE

    @property
    def fingerprint(self) -> str:
        return self.summary["fingerprint"]

    @property
    def z_size(self) -> int:
        return self.variant["hparams"]["z_size"]

    def config(self, **hparam_overrides) -> configs.Config:
        """A fresh Magenta Config of this model (never reuse one: TrainedModel deep-copies it)."""
        return build_config(self.variant, self.representation, **hparam_overrides)

    def trained_model(self, batch_size: int, seed: int):
        """Magenta's TrainedModel over this checkpoint, with seeded sampling."""
        tf = magenta_env.tensorflow_v1()
        from magenta.models.music_vae import TrainedModel

        with seeded_graphs(tf, seed):
            return TrainedModel(self.config(), batch_size=batch_size, checkpoint_dir_or_path=self.checkpoint)
