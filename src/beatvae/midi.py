"""General MIDI drum files that loop in a DAW: one drum track on channel 10, tempo and metre meta,
end of track exactly on the last bar line. Shared by generation (writing) and rendering (reading)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from beatvae.files import written_atomically
from beatvae.smf import DEFAULT_QPM

DRUM_PROGRAM_CHANNEL = 9  # General MIDI channel 10, zero-based
TICKS_PER_QUARTER = 480  # what DAWs write; every 16th note is a whole number of ticks


def sequence_qpm(sequence) -> float:
    """The tempo a NoteSequence starts at: its first tempo, or MIDI's default without one."""
    return sequence.tempos[0].qpm if sequence.tempos else DEFAULT_QPM


def retimed(sequence, qpm: float, quarters_per_bar: int = 4, num_bars: int | None = None):
    """The sequence at tempo `qpm` (Magenta decodes at DEFAULT_QPM), marked 4/4 General MIDI drums.

    With `num_bars`, the sequence lasts exactly that many bars (Magenta ends it at its last note),
    so the file written from it loops.
    """
    import note_seq

    result = note_seq.NoteSequence()
    result.CopyFrom(sequence)
    scale = DEFAULT_QPM / qpm
    for note in result.notes:
        note.start_time *= scale
        note.end_time *= scale
        note.is_drum = True
        note.instrument = 0  # one instrument: note_seq would write a MIDI track per instrument number
    result.total_time *= scale
    if num_bars is not None:
        result.total_time = num_bars * quarters_per_bar * 60.0 / qpm
    del result.tempos[:]
    result.tempos.add(qpm=qpm, time=0.0)
    del result.time_signatures[:]
    result.time_signatures.add(numerator=quarters_per_bar, denominator=4, time=0.0)
    return result


def _bar_seconds(sequence) -> tuple[float, float, int]:
    qpm = sequence_qpm(sequence)
    numerator = sequence.time_signatures[0].numerator if sequence.time_signatures else 4
    denominator = sequence.time_signatures[0].denominator if sequence.time_signatures else 4
    return qpm, numerator * 4.0 / denominator * 60.0 / qpm, numerator


def _hits(notes, tick, end_tick: int) -> list[tuple[int, int, int, int]]:
    """(pitch, velocity, start tick, end tick) of each note that starts before `end_tick`, in the
    sequence's order, with no two notes of one pitch sounding at once: a note ends where the next hit
    of its pitch starts (humanizing moves onsets but keeps lengths, and a gated sampler would cut the
    later hit short), and of two hits of one pitch on the same tick only the louder is kept."""
    by_pitch: dict[int, dict[int, tuple[int, int, int]]] = {}  # pitch -> start -> (velocity, end, order)
    for order, note in enumerate(notes):
        start = min(tick(note.start_time), end_tick)
        if start >= end_tick:
            continue
        end = min(max(tick(note.end_time), start + 1), end_tick)
        starts = by_pitch.setdefault(note.pitch, {})
        if start not in starts or note.velocity > starts[start][0]:
            starts[start] = (note.velocity, end, order)
    hits = []
    for pitch, starts in by_pitch.items():
        ordered = sorted(starts)
        for start, next_start in zip(ordered, [*ordered[1:], end_tick], strict=True):
            velocity, end, order = starts[start]
            hits.append((order, pitch, velocity, start, min(end, next_start)))
    return [hit[1:] for hit in sorted(hits)]


def write_midi(sequence, path: str | os.PathLike, track_name: str = "Drums") -> Path:
    """Write `sequence` as a type-0 General MIDI drum file that loops.

    One track: track name, tempo, time signature, the notes on channel 10 and end-of-track at
    `sequence.total_time` rounded up to a whole bar (so a loop of 4 bars is 4 bars even when its
    last bar is silent). Velocities are kept; notes of one pitch never overlap (`_hits`). Written to
    a temporary name first, so a crash leaves no half file behind.
    """
    import mido

    qpm, bar_seconds, numerator = _bar_seconds(sequence)
    denominator = sequence.time_signatures[0].denominator if sequence.time_signatures else 4
    seconds_per_tick = 60.0 / qpm / TICKS_PER_QUARTER

    def tick(seconds: float) -> int:
        return int(round(seconds / seconds_per_tick))

    # A tiny tolerance: 8.0000001 s of a 4-bar loop is 4 bars, not 5.
    num_bars = max(1, math.ceil(sequence.total_time / bar_seconds - 1e-6))
    end_tick = tick(num_bars * bar_seconds)
    events = []  # (tick, order, message): note-offs before note-ons at the same tick
    for pitch, velocity, start, end in _hits(sequence.notes, tick, end_tick):
        events.append((start, 1, mido.Message("note_on", channel=DRUM_PROGRAM_CHANNEL, note=pitch, velocity=velocity)))
        events.append((end, 0, mido.Message("note_off", channel=DRUM_PROGRAM_CHANNEL, note=pitch, velocity=0)))
    events.sort(key=lambda event: (event[0], event[1]))

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=track_name, time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0))
    now = 0
    for at, _, message in events:
        track.append(message.copy(time=at - now))
        now = at
    track.append(mido.MetaMessage("end_of_track", time=end_tick - now))

    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.append(track)
    path = Path(path)
    with written_atomically(path, ".partial") as partial:
        midi.save(partial)
    return path


def midi_length_seconds(path: str | os.PathLike) -> float:
    """Playing time of a MIDI file up to its end-of-track (tempo changes included)."""
    import mido

    return float(mido.MidiFile(path).length)
