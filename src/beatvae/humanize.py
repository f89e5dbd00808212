"""The humanize stage: quantized drum MIDI files in, the same notes played with a GrooVAE model's
velocities and micro-timing out (generated beats and users' own files alike).

Every note of a file stays; only drum-class notes change, and only their velocity and onset (by
at most half a 16th step). The written file is a DAW-ready loop exactly as long as the original.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from beatvae.groove import apply_groove, humanize_windows, humanizer_batch_size, quantized_drums
from beatvae.midi import midi_length_seconds, write_midi
from beatvae.model import TrainedModelDir
from beatvae.settings import SettingsError, check_drum_midi, is_groove

log = logging.getLogger(__name__)

# Windows per TrainedModel batch when the decoder takes no per-window controls (any size works:
# Magenta pads the last batch).
BATCH_SIZE = 16


class HumanizeError(ValueError):
    """A MIDI file or model that cannot be humanized; the message names it."""


def load_humanizer(model_dir: str | os.PathLike, seed: int):
    """(TrainedModelDir, Magenta TrainedModel) of a groove model trained to humanize."""
    model = TrainedModelDir.load(model_dir)
    representation = model.representation
    if not is_groove(representation) or not representation.get("humanize"):
        raise HumanizeError(
            f"{model_dir} is not a humanizing groove model (its representation is {representation['converter']} "
            f"with humanize: {bool(representation.get('humanize'))}); humanize.model must name a GrooveConverter "
            "variant whose representation has humanize: true"
        )
    return model, model.trained_model(batch_size=humanizer_batch_size(representation, BATCH_SIZE), seed=seed)


def read_midi(path: str | os.PathLike):
    """A NoteSequence of a MIDI file; HumanizeError naming the file when it cannot be read."""
    import note_seq

    path = Path(path)
    if not path.is_file():
        raise HumanizeError(f"{path}: no such MIDI file")
    try:
        return note_seq.midi_file_to_note_sequence(str(path))
    except Exception as error:  # note_seq wraps mido's and pretty_midi's many error types
        raise HumanizeError(f"{path}: not a readable MIDI file ({type(error).__name__}: {error})") from error


def drum_part(sequence, midi_path, representation: Mapping):
    """The sequence's notes on General MIDI channel 10 (the humanized file is a drum file: a piano part
    beside the drums would come out played on drums). The parts left out are logged by channel and
    program; HumanizeError, naming the parts, for a file with no drums (settings.check_drum_midi, as
    while planning)."""
    import note_seq

    try:
        facts = check_drum_midi(midi_path, "humanize", str(midi_path), {"the humanizing model": representation})
    except SettingsError as error:
        raise HumanizeError(str(error)) from error
    left_out = facts.other_parts()
    if not left_out:
        return sequence
    log.warning(
        "%s: left out %s: only the drums (General MIDI channel 10) are humanized",
        midi_path,
        "; ".join(part.describe() for part in left_out),
    )
    drums = note_seq.NoteSequence()
    drums.CopyFrom(sequence)
    del drums.notes[:]
    drums.notes.extend(note for note in sequence.notes if note.is_drum)
    return drums


def humanize_sequence(model: TrainedModelDir, trained, sequence, temperature: float, source: str):
    """The sequence with the model's groove applied to its drum-class notes (see groove.apply_groove)."""
    try:
        drums = quantized_drums(sequence, model.representation, source)
    except ValueError as error:
        raise HumanizeError(str(error)) from error
    grooves = humanize_windows(trained, drums.inputs, drums.controls, temperature)
    return apply_groove(sequence, drums, grooves), drums


def humanize_midi_files(
    model_dir: str | os.PathLike,
    midi_paths: Sequence[str | os.PathLike],
    out_paths: Sequence[str | os.PathLike],
    temperature: float,
    seed: int,
) -> list[dict]:
    """Humanizes each MIDI file of `midi_paths` into the file of `out_paths` at the same index.

    The model is loaded once. Each output is a type-0 General MIDI drum file (midi.write_midi)
    with the original's tempo and metre whose end-of-track is where the original's is (rounded up
    to a whole bar), so a 4-bar loop stays a 4-bar loop. Returns one summary per file (logged too).
    """
    if len(midi_paths) != len(out_paths):
        raise ValueError(f"{len(midi_paths)} MIDI files but {len(out_paths)} output paths")
    model, trained = load_humanizer(model_dir, seed)
    log.info("humanizing %d MIDI files with %s (temperature %g)", len(midi_paths), model_dir, temperature)
    summaries = []
    for midi_path, out_path in zip(midi_paths, out_paths, strict=True):
        sequence = drum_part(read_midi(midi_path), midi_path, model.representation)
        humanized, drums = humanize_sequence(model, trained, sequence, temperature, str(midi_path))
        # The loop length is the original file's (note_seq ends a sequence at its last note-off).
        humanized.total_time = max(midi_length_seconds(midi_path), 1e-6)
        write_midi(humanized, out_path)
        summary = humanized_summary(sequence, humanized, drums.step_seconds)
        summaries.append({"midi": str(midi_path), "humanized": str(out_path), **summary})
        log.info(
            "%s -> %s: %d notes, velocity %.1f +- %.1f, onsets moved %.1f ms on average (max %.1f ms, step %.1f ms)",
            midi_path,
            out_path,
            summary["notes"],
            summary["velocity_mean"],
            summary["velocity_std"],
            summary["offset_mean_abs_ms"],
            summary["offset_max_abs_ms"],
            drums.step_seconds * 1000,
        )
    return summaries


def humanized_summary(original, humanized, step_seconds: float) -> dict:
    """Notes, velocity mean/std and onset shifts (ms) of a humanized sequence against its original."""
    velocities = np.array([note.velocity for note in humanized.notes], np.float64)
    shifts = np.array(
        [(new.start_time - old.start_time) * 1000 for old, new in zip(original.notes, humanized.notes, strict=True)]
    )
    return {
        "notes": len(humanized.notes),
        "velocity_mean": float(velocities.mean()) if velocities.size else 0.0,
        "velocity_std": float(velocities.std()) if velocities.size else 0.0,
        "offset_mean_abs_ms": float(np.abs(shifts).mean()) if shifts.size else 0.0,
        "offset_max_abs_ms": float(np.abs(shifts).max()) if shifts.size else 0.0,
        "step_ms": step_seconds * 1000,
    }
