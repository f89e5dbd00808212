"""Magenta MusicVAE Configs built from a variant of the workflow config."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Mapping

from beatvae import magenta_env  # noqa: F401  (must precede the TensorFlow import)
from beatvae.dataset import make_drums_converter
from beatvae.settings import TRAINING_KEYS, check_variant, model_hparams
from magenta.common import merge_hparams
from magenta.contrib import training as contrib_training
from magenta.models.music_vae import configs, lstm_models
from magenta.models.music_vae.base_model import MusicVAE

class ObservedMusicVAE(MusicVAE):
    """Magenta's MusicVAE, keeping the metric and scalar tensors its loss computation builds.

    `MusicVAE.train` discards the decoder's accuracy metrics; the training loop logs them, and
    evaluation reads both maps, so they are kept on the instance.
    """

    def _compute_model_loss(self, *args, **kwargs):
        self.metric_map, self.scalars = super()._compute_model_loss(*args, **kwargs)
        return self.metric_map, self.scalars


def training_settings(variant: Mapping) -> dict:
    return {key: copy.deepcopy(variant[key]) for key in TRAINING_KEYS}


def fingerprint(variant: Mapping, converter: Mapping) -> str:
    """Identifies the weights a checkpoint holds; `num_steps` is left out so a run can be extended."""
    settings = training_settings(variant)
    settings["training"] = {k: v for k, v in settings["training"].items() if k == "seed"}
    settings["converter"] = dict(converter)
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def build_config(variant: Mapping, converter: Mapping, **hparam_overrides) -> configs.Config:
    """A fresh Magenta Config for `variant` (TrainedModel deep-copies Configs, so never reuse one)."""
    check_variant("(this)", variant, converter)
    structure = variant["model"]
    hparams = dict(model_hparams(variant, converter), **hparam_overrides)
    level_lengths = structure.get("level_lengths")
    core_decoder = getattr(lstm_models, structure["decoder"])()
    if level_lengths:
        decoder = lstm_models.HierarchicalLstmDecoder(
            core_decoder,
            level_lengths=list(level_lengths),
            disable_autoregression=structure.get("disable_autoregression", False),
        )
    else:
        decoder = core_decoder
    encoder = getattr(lstm_models, structure["encoder"])()
    return configs.Config(
        model=ObservedMusicVAE(encoder, decoder),
        hparams=merge_hparams(lstm_models.get_default_hparams(), contrib_training.HParams(**hparams)),
        note_sequence_augmenter=None,
        data_converter=make_drums_converter(converter),
        # music_vae_train writes this into a summary; our loop reads precomputed tensors instead.
        train_examples_path="precomputed-tensors",
        eval_examples_path="precomputed-tensors",
    )
