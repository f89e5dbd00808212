"""One model over all 4/4 GMD windows with the style as a control the model sees (issue 22, item 3):
every training window of the all-4/4 subset (v1) carries, on each step, a one-hot of its
performance's style (GMD's first style word: rock, funk, jazz, ...) and a beat/fill flag; the model
is sampled with the rock-beat control and judged against held-out rock beats, as every realism point.

    .venv/bin/python bench/style_control.py   # -> bench/work/style/{train,validation}.npz, controls.json, then
    .venv/bin/python bench/realism_curve.py train NAME "$(cat bench/work/style/overrides.json)"

The training windows are made as the workflow makes config.yaml's drums-4bar windows (its
converter, its dropped ghost notes, de-duplicated across the split); the validation windows are the
rock beats' (results/tensors/v2/drums-4bar/validation.npz) with the rock-beat control. Magenta's
encoder reads the control beside each step's hits, and its hierarchical decoder's bottom LSTM beside
each step's previous output (the conductor does not see it). Reads results/tfrecord/v1/train.tfrecord
and results/tensors/v2 (the workflow's, `--configfile config/config.yaml config/with-v1.yaml`).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from common import REPO, WORK, load_config

REPRESENTATION = "drums-4bar"
OUT = WORK / "style"


def control_frame(styles: list[str], style: str, beat: bool) -> np.ndarray:
    """bool [len(styles) + 1]: the style's one-hot, then 1 for a beat (0 for a fill)."""
    frame = np.zeros(len(styles) + 1, bool)
    frame[styles.index(style)] = True
    frame[-1] = beat
    return frame


def with_controls(windows, frames: np.ndarray):
    """`windows` with `frames` [N, depth] repeated on every step as their controls."""
    steps = windows.inputs.shape[1]
    return dataclasses.replace(windows, controls=np.repeat(frames[:, None, :], steps, axis=1))


def build() -> dict:
    from beatvae.dataset import Windows, make_converter, split_sequences, windows_from_note_sequences
    from beatvae.metadata import parse_midi_path
    from beatvae.settings import window_steps

    representation = load_config()["representations"][REPRESENTATION]
    sequences = list(split_sequences(REPO / "results" / "tfrecord" / "v1" / "train.tfrecord", "train", representation))
    names = {sequence.id: parse_midi_path(sequence.filename) for sequence in sequences}
    styles = sorted({name.style for name in names.values()})
    windows = windows_from_note_sequences(sequences, make_converter(representation), window_steps(representation))
    frames = np.stack([control_frame(styles, names[s].style, names[s].beat_type == "beat") for s in windows.sources])
    rock_beat = control_frame(styles, "rock", True)
    validation = Windows.load(REPO / "results" / "tensors" / "v2" / REPRESENTATION / "validation.npz")
    OUT.mkdir(parents=True, exist_ok=True)
    with_controls(windows, frames).save(OUT / "train.npz")
    with_controls(validation, np.tile(rock_beat, (len(validation), 1))).save(OUT / "validation.npz")
    figures = {
        "styles": styles,
        "training_windows": len(windows),
        "rock_beat_windows": int((frames == rock_beat).all(axis=1).sum()),
        "validation_windows": len(validation),
    }
    overrides = {
        "train_windows": str(OUT / "train.npz"),
        "validation_windows": str(OUT / "validation.npz"),
        "sample_control": rock_beat.astype(int).tolist(),
    }
    (OUT / "controls.json").write_text(json.dumps(figures, indent=1))
    (OUT / "overrides.json").write_text(json.dumps(overrides))
    print(json.dumps(figures))
    return overrides


if __name__ == "__main__":
    build()
