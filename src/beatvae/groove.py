"""Humanizing with a GrooVAE model: quantized drum hits in, velocities and timing offsets out.

Shared by the humanize stage (MIDI in, MIDI out) and the groove evaluation (held-out windows).
A groove window's values per step are Magenta's GrooveConverter layout (see beatvae.groove_metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from beatvae.dataset import make_converter
from beatvae.groove_metrics import OFFSETS, VELOCITIES
from beatvae.midi import sequence_qpm
from beatvae.settings import window_steps


def humanize_windows(trained, inputs: np.ndarray, controls: np.ndarray | None, temperature: float) -> np.ndarray:
    """float32 [N, steps, 27]: the model's groove for each quantized input window.

    `trained` is Magenta's TrainedModel of a groove variant. Each window is encoded to the mean
    of its posterior (the most likely groove, the same on every run) and decoded; with hits as
    controls (`controls` not None) the decoder is given the window's own hits, which Magenta's
    TrainedModel takes for one window at a time (see humanizer_batch_size).
    """
    steps = inputs.shape[1]
    lengths = [steps] * len(inputs)
    if controls is None:
        _, mu, _ = trained.encode_tensors(list(inputs), lengths)
        return np.asarray(trained.decode_to_tensors(mu, length=steps, temperature=temperature), np.float32)
    outputs = []
    for window_inputs, window_controls in zip(inputs, controls, strict=True):
        _, mu, _ = trained.encode_tensors([window_inputs], [steps], [window_controls.astype(np.float32)])
        decoded = trained.decode_to_tensors(
            mu, length=steps, temperature=temperature, c_input=window_controls.astype(np.float32)
        )
        outputs.append(np.asarray(decoded[0], np.float32))
    return np.stack(outputs) if outputs else np.zeros((0, steps, inputs.shape[2]), np.float32)


def humanizer_batch_size(representation: Mapping, batch_size: int) -> int:
    """The batch size of the TrainedModel humanize_windows gets: `batch_size`, or 1 when the hits
    are given as controls (Magenta's TrainedModel takes one control sequence per batch)."""
    return 1 if representation.get("hits_as_controls") else batch_size


@dataclass
class QuantizedDrums:
    """A performance's drum notes on the converter's grid, ready to be humanized window by window."""

    inputs: np.ndarray  # float32 [windows, steps, 27]: hits only (velocities and offsets removed)
    controls: np.ndarray | None  # bool [windows, steps, 9], when the representation gives hits as controls
    steps: np.ndarray  # int [notes]: grid step of each humanizable note (-1: not a drum class, left as it is)
    classes: np.ndarray  # int [notes]: drum class of each humanizable note
    step_seconds: float


def quantized_drums(sequence, representation: Mapping, source: str = "sequence") -> QuantizedDrums:
    """Cuts a NoteSequence into the representation's windows of hits (the last padded with silence).

    Notes of pitches outside the 9 drum classes are kept out of the model and left as played.
    Raises ValueError, naming `source`, for sequences the converter cannot read (not in 4/4, no
    tempo-steady grid, no drum notes).
    """
    import note_seq

    converter = make_converter(dict(representation, split_bars=None, hop_size=None))
    converter.set_mode("infer")  # the general MIDI drum map, as generated beats and user files use
    class_of = converter.pitch_class_map
    try:
        quantized = note_seq.quantize_note_sequence(sequence, representation["steps_per_quarter"])
    except Exception as error:  # note_seq raises several types for tempo and meter changes
        raise ValueError(f"{source}: cannot be put on a grid ({type(error).__name__}: {error})") from error
    drums = note_seq.NoteSequence()
    drums.CopyFrom(sequence)
    del drums.notes[:]
    steps, classes = [], []
    for original, note in zip(sequence.notes, quantized.notes, strict=True):
        if note.pitch in class_of:
            drums.notes.add().CopyFrom(original)
            steps.append(note.quantized_start_step)
            classes.append(class_of[note.pitch])
        else:
            steps.append(-1)
            classes.append(-1)
    if not drums.notes:
        raise ValueError(f"{source}: no notes of the 9 drum classes to humanize")
    tensors = converter.to_tensors(drums)
    if not tensors.inputs:
        signatures = [f"{t.numerator}/{t.denominator}" for t in quantized.time_signatures]
        raise ValueError(f"{source}: not a 4/4 drum performance the groove model can read (meter: {signatures})")
    window = window_steps(representation)
    whole = np.asarray(tensors.inputs[0], np.float32)
    padded_steps = -(-len(whole) // window) * window
    inputs = np.zeros((padded_steps, whole.shape[1]), np.float32)
    inputs[: len(whole)] = whole
    controls = None
    if tensors.controls is not None and converter.control_depth:
        controls = np.zeros((padded_steps, converter.control_depth), bool)
        controls[: len(whole)] = tensors.controls[0]
    qpm = sequence_qpm(quantized)
    return QuantizedDrums(
        inputs=inputs.reshape(-1, window, whole.shape[1]),
        controls=None if controls is None else controls.reshape(-1, window, controls.shape[1]),
        steps=np.asarray(steps, int),
        classes=np.asarray(classes, int),
        step_seconds=60.0 / qpm / representation["steps_per_quarter"],
    )


def apply_groove(sequence, drums: QuantizedDrums, grooves: np.ndarray):
    """A copy of `sequence` whose drum-class notes take the groove's velocity and timing.

    Every note stays (hits the model would drop or add are ignored): only how each is played
    changes. A note's onset moves by the offset at its step and class, at most half a step, and
    never before 0 s; its length is kept.
    """
    import note_seq

    flat = grooves.reshape(-1, grooves.shape[-1])
    humanized = note_seq.NoteSequence()
    humanized.CopyFrom(sequence)
    for note, step, drum_class in zip(humanized.notes, drums.steps, drums.classes, strict=True):
        if step < 0:
            continue
        values = flat[step]
        velocity = int(np.clip(np.round(values[VELOCITIES][drum_class] * 127), 1, 127))
        offset = float(np.clip(values[OFFSETS][drum_class] / 2, -0.5, 0.5))
        length = note.end_time - note.start_time
        note.start_time = max(0.0, (step - offset) * drums.step_seconds)
        note.end_time = note.start_time + length
        note.velocity = velocity
    humanized.total_time = max([humanized.total_time, *(note.end_time for note in humanized.notes)])
    return humanized
