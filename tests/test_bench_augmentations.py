"""The realism bench's training-window variants (bench/augment.py, bench/style_control.py) change
what they say and nothing else: they make the windows of bench/REALISM.md's points."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from note_seq.protobuf import music_pb2

from beatvae.dataset import Windows

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import augment  # noqa: E402
import style_control  # noqa: E402

CLOSED_HAT, RIDE, SNARE, KICK = 42, 51, 38, 36


def performance(*hits: tuple[int, int]) -> music_pb2.NoteSequence:
    """A NoteSequence of (pitch, velocity) drum hits, one per 16th at 120 qpm."""
    sequence = music_pb2.NoteSequence(id="/id/midi/groove/x", filename="drummer1/session1/1_rock_120_beat_4-4.mid")
    for index, (pitch, velocity) in enumerate(hits):
        start = index * 0.125
        sequence.notes.add(pitch=pitch, velocity=velocity, start_time=start, end_time=start + 0.1, is_drum=True)
    sequence.total_time = len(hits) * 0.125
    return sequence


def test_hat_ride_swap_trades_the_two_time_keepers_both_ways_and_leaves_the_rest():
    original = performance((CLOSED_HAT, 80), (RIDE, 70), (SNARE, 100), (KICK, 90), (44, 60), (53, 50))
    swapped = augment.hat_ride_swapped(original)
    assert [note.pitch for note in swapped.notes] == [RIDE, CLOSED_HAT, SNARE, KICK, RIDE, CLOSED_HAT]
    assert [note.velocity for note in swapped.notes] == [80, 70, 100, 90, 60, 50]
    assert swapped.id == original.id + "-swapped"  # its windows keep a source apart from the original's
    assert [note.pitch for note in original.notes] == [CLOSED_HAT, RIDE, SNARE, KICK, 44, 53]


def test_ghost_notes_dropped_are_the_soft_snare_hits_only():
    original = performance((SNARE, 29), (SNARE, 30), (CLOSED_HAT, 10), (40, 12), (KICK, 5))
    kept = augment.augmented(original, ghost_below=30)
    assert [(note.pitch, note.velocity) for note in kept.notes] == [(SNARE, 30), (CLOSED_HAT, 10), (KICK, 5)]
    assert len(original.notes) == 5


def test_style_control_frame_is_the_style_one_hot_then_the_beat_flag():
    styles = ["funk", "jazz", "rock"]
    assert style_control.control_frame(styles, "rock", True).tolist() == [False, False, True, True]
    assert style_control.control_frame(styles, "funk", False).tolist() == [True, False, False, False]


def test_style_controls_repeat_each_window_frame_on_every_step():
    steps, windows_count = 64, 3
    windows = Windows(
        np.zeros((windows_count, steps, 9), bool),
        np.zeros((windows_count, steps), np.int16),
        np.full(windows_count, steps, np.int32),
        np.array(["a", "b", "c"]),
    )
    frames = np.eye(windows_count, 4, dtype=bool)
    controlled = style_control.with_controls(windows, frames)
    assert controlled.controls.shape == (windows_count, steps, 4)
    assert (controlled.controls == frames[:, None, :]).all()
    assert len(controlled.model_arrays()) == 4  # the controls reach the model as its control sequence
    assert windows.controls is None
