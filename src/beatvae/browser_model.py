"""A trained model folder exported for the browser: what @magenta/music's `MusicVAE` loads.

Magenta.js reads a model as `config.json` (its `MusicVAESpec`: the type and the data converter) and a
TensorFlow.js weights manifest with its binary shard, under the checkpoint's variable names, which are
the ones magenta.js's `MusicVAE.initialize` looks up (`encoder/cell_0/bidirectional_rnn/{fw,bw}/...`,
`encoder/mu`, `decoder/multi_rnn_cell/cell_N/lstm_cell`, `decoder/z_to_initial_state`,
`decoder/output_projection`). The training-only variables (Adam slots, step counters) are left out.

One rename: magenta.js ties a hierarchical decoder (its `numSegments`) to a hierarchical encoder,
while ours pairs a flat bidirectional encoder with Magenta's HierarchicalLstmDecoder. So the export
gives magenta.js a flat model: the core decoder's weights (`core_decoder/decoder/...`) become
`decoder/...`, and the conductor's (`decoder/hierarchical_level_0/...`, which magenta.js then leaves
alone) are run by the page's explorer (report/page/explorer.js) around that core decoder, as the spec's
`beatvae.conductor` says: one step per bar, autoregressive unless `disable_autoregression` (each
step then reads the core decoder's final state of the bar before, which magenta.js's own
ConductorDecoder never does). A GrooVAE model trained with hits as controls is decoded with those
hits as its `extraControls`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from beatvae.dataset import make_converter
from beatvae.files import written_atomically
from beatvae.model import TrainedModelDir
from beatvae.settings import (
    BROWSER_CONFIG_FILE,
    BROWSER_MANIFEST_FILE,
    BROWSER_WEIGHTS_FILE,
    browser_export_problems,
    is_groove,
    window_steps,
)

# The scopes of the network's own weights; everything else in a checkpoint serves training.
MODEL_SCOPES = ("encoder/", "decoder/", "core_decoder/", "control_preprocessing/")
OPTIMIZER_SLOTS = ("/Adam", "/Adam_1")
CORE_DECODER_SCOPE, FLAT_DECODER_SCOPE = "core_decoder/decoder/", "decoder/"
# The control name the page passes a groove model's hits under (magenta.js `extraControls`).
HITS_CONTROL = "hits"


def is_model_weight(name: str) -> bool:
    return name.startswith(MODEL_SCOPES) and not name.endswith(OPTIMIZER_SLOTS)


def browser_name(name: str) -> str:
    """The name magenta.js looks a checkpoint variable up by (the core decoder's as a flat decoder's)."""
    if name.startswith(CORE_DECODER_SCOPE):
        return FLAT_DECODER_SCOPE + name[len(CORE_DECODER_SCOPE) :]
    return name


def model_weights(checkpoint: str) -> dict[str, np.ndarray]:
    """The network's weights in a TensorFlow checkpoint, as float32, by the names magenta.js reads."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(checkpoint)
    names = sorted(name for name in reader.get_variable_to_shape_map() if is_model_weight(name))
    return {browser_name(name): np.asarray(reader.get_tensor(name), np.float32) for name in names}


def check_supported(model: TrainedModelDir) -> None:
    """Refuses the model shapes the page cannot run with magenta.js (it names what it supports)."""
    problems = browser_export_problems(model.variant, model.representation)
    if problems:
        raise ValueError(f"{model.path}: cannot export for the browser: {'; '.join(problems)}")


def model_spec(model: TrainedModelDir) -> dict:
    """magenta.js's MusicVAESpec of `model`, with what the page needs beyond it under `beatvae`."""
    representation = model.representation
    converter = make_converter(representation)
    steps = window_steps(representation)
    level_lengths = model.variant["model"].get("level_lengths")
    beatvae = {
        "zSize": model.z_size,
        "numSteps": steps,
        "stepsPerQuarter": representation["steps_per_quarter"],
        "quartersPerBar": representation["quarters_per_bar"],
        "fingerprint": model.fingerprint,
        "steps": model.summary.get("steps"),
    }
    if is_groove(representation):
        # magenta.js's GrooveConverter reads and writes one set of classes: the reduced map written at
        # inference (Magenta's groovae configs read the Roland kit's pitches, a superset per class).
        args = {
            "numSteps": steps,
            "stepsPerQuarter": representation["steps_per_quarter"],
            "humanize": bool(representation["humanize"]),
            "pitchClasses": [list(pitches) for pitches in converter._infer_pitch_classes],
        }
        spec = {"type": "MusicVAE", "dataConverter": {"type": "GrooveConverter", "args": args}}
        if representation.get("hits_as_controls"):
            spec["extraControls"] = [{"name": HITS_CONTROL, "depth": len(converter._infer_pitch_classes)}]
        return {**spec, "beatvae": beatvae}
    # magenta.js's DrumsConverter pairs a drum roll in (9 classes + "no hit", as `roll_input: true`)
    # with a one-hot over the 512 class combinations out: the pairing this representation trains.
    args = {"numSteps": steps, "pitchClasses": [list(pitches) for pitches in converter._pitch_classes]}
    if level_lengths:
        beatvae["conductor"] = {
            "numSegments": level_lengths[0],
            "autoregressive": not model.variant["model"]["disable_autoregression"],
        }
    return {"type": "MusicVAE", "dataConverter": {"type": "DrumsConverter", "args": args}, "beatvae": beatvae}


def export(model_dir: str | os.PathLike, out_dir: str | os.PathLike) -> dict:
    """Writes `model_dir`'s weights and spec in magenta.js's format into `out_dir` (settings.BROWSER_*_FILE);
    returns the manifest's weight entries and the shard's size in bytes."""
    model = TrainedModelDir.load(model_dir)
    check_supported(model)
    spec = model_spec(model)
    weights = model_weights(model.checkpoint)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = [{"name": name, "shape": list(value.shape), "dtype": "float32"} for name, value in weights.items()]
    # TensorFlow.js reads a shard as the weights' little-endian float32 values, in manifest order.
    shard = b"".join(value.astype("<f4").tobytes() for value in weights.values())
    with written_atomically(out_dir / BROWSER_WEIGHTS_FILE) as path:
        path.write_bytes(shard)
    write_json(out_dir / BROWSER_MANIFEST_FILE, [{"paths": [BROWSER_WEIGHTS_FILE], "weights": entries}])
    write_json(out_dir / BROWSER_CONFIG_FILE, spec)
    return {"weights": entries, "bytes": len(shard)}


def write_json(path: Path, value) -> None:
    with written_atomically(path) as temporary:
        temporary.write_text(json.dumps(value, indent=1), encoding="utf-8")
