"""What a Standard MIDI File holds, read with the standard library only: which channels play how
many notes with which program, its time signatures and tempos, and where its drum notes end.

The workflow reads users' MIDI files with it while planning (settings.check_drum_midi), where
nothing but Snakemake may be installed, and the humanize job names the parts it leaves out with
it. Notes on General MIDI channel 10 are drums, as pretty_midi and note_seq (is_drum) read them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DRUM_CHANNEL = 9  # General MIDI channel 10, zero-based
# MIDI's tempo until a file sets one; note_seq reads a NoteSequence without tempos at it too, and
# Magenta decodes its samples at it. The one default tempo of the package.
DEFAULT_QPM = 120.0
DEFAULT_TEMPO = round(60_000_000 / DEFAULT_QPM)  # the same, in microseconds per quarter note

# General MIDI program families, 8 programs each (GM 1 sound set), to name a part in messages.
PROGRAM_FAMILIES = (
    "piano",
    "chromatic percussion",
    "organ",
    "guitar",
    "bass",
    "strings",
    "ensemble",
    "brass",
    "reed",
    "pipe",
    "synth lead",
    "synth pad",
    "synth effects",
    "ethnic",
    "percussive",
    "sound effects",
)

# Data bytes after each channel-message status (high nibble).
_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}


class MidiFileError(ValueError):
    """Bytes that are not a Standard MIDI File; the message says what is wrong."""


@dataclass
class Part:
    """The notes of one MIDI channel."""

    channel: int  # zero-based; DRUM_CHANNEL is drums
    notes: int = 0
    program: int = 0  # the program in effect at the channel's first note
    track_name: str = ""  # the name of the track its first note is in

    def describe(self) -> str:
        """e.g. "channel 1 (program 1, a piano; track 'Grand'): 32 notes" (channels and programs counted from 1)."""
        if self.channel == DRUM_CHANNEL:
            what = "drums"
        else:
            what = f"program {self.program + 1}, a {PROGRAM_FAMILIES[self.program // 8]}"
        track = f"; track {self.track_name!r}" if self.track_name else ""
        return f"channel {self.channel + 1} ({what}{track}): {self.notes} notes"


@dataclass
class MidiFacts:
    """What the checks need to know of a MIDI file, times in ticks."""

    ticks_per_quarter: int
    parts: dict[int, Part] = field(default_factory=dict)  # channel -> its notes
    time_signatures: list[tuple[int, int, int]] = field(default_factory=list)  # (tick, numerator, denominator)
    tempos: list[tuple[int, int]] = field(default_factory=list)  # (tick, microseconds per quarter)
    last_drum_onset: int | None = None  # tick of the last drum note-on

    @property
    def drum_notes(self) -> int:
        return self.parts[DRUM_CHANNEL].notes if DRUM_CHANNEL in self.parts else 0

    def other_parts(self) -> list[Part]:
        """Parts off the drum channel, most notes first."""
        return sorted((p for p in self.parts.values() if p.channel != DRUM_CHANNEL), key=lambda p: -p.notes)

    def qpms(self) -> list[float]:
        """The file's tempos in quarters per minute, in order; DEFAULT_QPM before the first (as note_seq reads it)."""
        tempos = sorted(self.tempos)
        implicit = [] if tempos and tempos[0][0] == 0 else [DEFAULT_TEMPO]
        return [60_000_000 / tempo for tempo in implicit + [tempo for _, tempo in tempos]]


def _variable_length(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if at >= len(data):
            raise MidiFileError("a track ends inside a variable-length number")
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at
    raise MidiFileError("a variable-length number longer than 4 bytes")


def _read_track(data: bytes, facts: MidiFacts) -> None:
    at, tick, status = 0, 0, None
    track_name, programs = "", {}
    while at < len(data):
        delta, at = _variable_length(data, at)
        tick += delta
        if at >= len(data):
            raise MidiFileError("a track ends after an event's time")
        if data[at] == 0xFF:  # meta event
            if at + 1 >= len(data):
                raise MidiFileError("a track ends inside a meta event")
            kind = data[at + 1]
            length, at = _variable_length(data, at + 2)
            payload = data[at : at + length]
            if len(payload) < length:
                raise MidiFileError("a track ends inside a meta event")
            at += length
            status = None
            if kind == 0x2F:  # end of track
                return
            if kind == 0x03 and not track_name:
                track_name = payload.decode("latin-1").strip()
            elif kind == 0x51 and length == 3:
                facts.tempos.append((tick, int.from_bytes(payload, "big")))
            elif kind == 0x58 and length >= 2:
                facts.time_signatures.append((tick, payload[0], 2 ** payload[1]))
            continue
        if data[at] in (0xF0, 0xF7):  # system exclusive
            length, at = _variable_length(data, at + 1)
            at += length
            status = None
            continue
        if data[at] & 0x80:
            status = data[at]
            at += 1
        elif status is None:
            raise MidiFileError(f"a data byte without a status byte at offset {at} of a track")
        kind, channel = status >> 4, status & 0x0F
        if kind not in _DATA_BYTES:
            raise MidiFileError(f"an unknown status byte 0x{status:02X} in a track")
        message = data[at : at + _DATA_BYTES[kind]]
        if len(message) < _DATA_BYTES[kind]:
            raise MidiFileError("a track ends inside a channel message")
        at += len(message)
        if kind == 0xC:
            programs[channel] = message[0]
        elif kind == 0x9 and message[1] > 0:  # note-on (velocity 0 is a note-off)
            part = facts.parts.get(channel)
            if part is None:
                part = facts.parts[channel] = Part(channel, program=programs.get(channel, 0), track_name=track_name)
            part.notes += 1
            if channel == DRUM_CHANNEL:
                facts.last_drum_onset = max(tick, facts.last_drum_onset or 0)
    # A track without an end-of-track event: readers (mido, pretty_midi) accept it, so do we.


def read_midi_facts(path: str | os.PathLike) -> MidiFacts:
    """The MidiFacts of a Standard MIDI File; MidiFileError (no file name) when it is not one."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"MThd" or len(data) < 14:
        raise MidiFileError("no MIDI header (a .mid file starts with MThd)")
    header_length = int.from_bytes(data[4:8], "big")
    tracks = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    if division & 0x8000:
        raise MidiFileError("its time is in SMPTE frames, not ticks per quarter note; save it with a musical time base")
    if division == 0:
        raise MidiFileError("0 ticks per quarter note")
    facts = MidiFacts(ticks_per_quarter=division)
    at = 8 + header_length
    found = 0
    while at + 8 <= len(data) and found < tracks:
        kind, length = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "big")
        chunk = data[at + 8 : at + 8 + length]
        at += 8 + length
        if len(chunk) < length:
            raise MidiFileError(f"a chunk of {length} bytes is cut short at {len(chunk)} (a truncated file?)")
        if kind != b"MTrk":  # unknown chunks are to be skipped (SMF 1.0)
            continue
        found += 1
        _read_track(chunk, facts)
    if found < tracks:
        raise MidiFileError(f"its header announces {tracks} tracks, but {found} are there (a truncated file?)")
    return facts
