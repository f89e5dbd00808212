"""One beat on the beats page: its audio, its MIDI player, its piano roll(s) with labelled drum lanes
and a text alternative, and its download link, every file embedded as a data: URI."""

from __future__ import annotations

import base64
import html
import io
import re
from collections import Counter
from pathlib import Path

from beatvae.metrics import DRUM_CLASS_NAMES, DRUM_PITCH_CLASSES, PITCH_TO_DRUM_CLASS

SAMPLE_PIXELS_PER_SECOND = 34  # a 4-bar sample at 120 qpm fits a card
STEP_PIXELS_PER_SECOND = 130  # one interpolation step per row, wide enough to read 16th notes
MIME = {".ogg": "audio/ogg", ".mid": "audio/midi", ".midi": "audio/midi"}

# Piano-roll geometry, for the lane labels drawn here and the visualizers the page script sets up
# (it reads them from <body data-roll-*>): one row of ROLL_NOTE_HEIGHT pixels per pitch, the ride
# (51) on the top row and the kick (36) on the bottom one. Generated and humanized beats use only
# the first pitch of each of Magenta's drum classes, so every note falls on a labelled lane.
ROLL_MIN_PITCH, ROLL_MAX_PITCH, ROLL_NOTE_HEIGHT = 35, 51, 9
LANE_NAMES = dict(zip(DRUM_CLASS_NAMES, DRUM_CLASS_NAMES, strict=True)) | {
    "closed_hihat": "hi-hat",
    "open_hihat": "open hat",
    "low_tom": "low tom",
    "mid_tom": "mid tom",
    "high_tom": "high tom",
}
DRUM_LANES = tuple(
    (pitches[0], LANE_NAMES[name]) for pitches, name in zip(DRUM_PITCH_CLASSES, DRUM_CLASS_NAMES, strict=True)
)


def roll_geometry() -> dict[str, int]:
    """The piano rolls' geometry as <body> data attributes (data-roll-min-pitch...) for the page script."""
    return {"min-pitch": ROLL_MIN_PITCH, "max-pitch": ROLL_MAX_PITCH, "note-height": ROLL_NOTE_HEIGHT}


def data_uri(path_or_bytes, mime: str | None = None) -> str:
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytes(path_or_bytes)
    else:
        path = Path(path_or_bytes)
        data = path.read_bytes()
        mime = mime or MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def element_id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts)).strip("-")


def midi_segments(midi_path, bars_per_segment: int) -> list[tuple[float, float, bytes]]:
    """The MIDI file cut into files of `bars_per_segment` bars: [(start, length in seconds, MIDI bytes)].

    Each piece keeps the tempo and metre and starts at time 0, so the interpolation's steps can be
    drawn one per row on a common time axis.
    """
    import mido

    source = mido.MidiFile(midi_path)
    merged = mido.merge_tracks(source.tracks)
    meta, notes, tick = [], [], 0
    numerator, denominator = 4, 4
    tempo = mido.bpm2tempo(120)
    for message in merged:
        tick += message.time
        if message.type == "time_signature":
            numerator, denominator = message.numerator, message.denominator
        if message.type == "set_tempo":
            tempo = message.tempo
        if message.type in ("note_on", "note_off"):
            notes.append((tick, message))
        elif message.is_meta and message.type != "end_of_track" and tick == 0:
            meta.append(message)
    end_tick = tick
    segment_ticks = int(round(bars_per_segment * numerator * 4 / denominator * source.ticks_per_beat))
    seconds_per_tick = tempo / 1e6 / source.ticks_per_beat
    segments = []
    for start in range(0, max(end_tick, 1), segment_ticks):
        stop = min(start + segment_ticks, end_tick)
        track = mido.MidiTrack([message.copy(time=0) for message in meta])
        now = start
        for at, message in notes:
            # A note belongs to the segment its onset is in (its note-off may sit on the boundary).
            onset_inside = message.type == "note_on" and message.velocity > 0 and start <= at < stop
            off_inside = not (message.type == "note_on" and message.velocity > 0) and start < at <= stop
            if onset_inside or off_inside:
                track.append(message.copy(time=at - now))
                now = at
        track.append(mido.MetaMessage("end_of_track", time=stop - now))
        piece = mido.MidiFile(type=0, ticks_per_beat=source.ticks_per_beat)
        piece.tracks.append(track)
        buffer = io.BytesIO()
        piece.save(file=buffer)
        segments.append((start * seconds_per_tick, (stop - start) * seconds_per_tick, buffer.getvalue()))
    return segments


def _midi_file(path_or_bytes):
    import mido

    if isinstance(path_or_bytes, (bytes, bytearray)):
        return mido.MidiFile(file=io.BytesIO(bytes(path_or_bytes)))
    return mido.MidiFile(path_or_bytes)


def hits_in_words(path_or_bytes) -> str:
    """What a piano roll shows, for those who cannot see it: "31 hits: kick 8, snare 7, hi-hat 16"."""
    onsets = [m.note for m in _midi_file(path_or_bytes) if m.type == "note_on" and m.velocity > 0]
    by_lane = Counter(LANE_NAMES[DRUM_CLASS_NAMES[PITCH_TO_DRUM_CLASS[p]]] for p in onsets if p in PITCH_TO_DRUM_CLASS)
    others = len(onsets) - sum(by_lane.values())
    counts = [f"{name} {by_lane[name]}" for _, name in DRUM_LANES if by_lane[name]]
    counts += [f"{others} other notes"] if others else []
    return f"{len(onsets)} hits" + (": " + ", ".join(counts) if counts else "")


def _beat_seconds(midi_path) -> float:
    import mido

    tempos = [message.tempo for message in mido.MidiFile(midi_path) if message.type == "set_tempo"]
    return (tempos[0] if tempos else mido.bpm2tempo(120)) / 1e6


def _lane_labels() -> str:
    """The drum names beside a piano roll, each on its lane's row (hidden from screen readers: the
    roll's text alternative names the drums that play)."""
    labels = "".join(
        f'<span style="top:{(ROLL_MAX_PITCH - pitch) * ROLL_NOTE_HEIGHT + 1}px">{html.escape(name)}</span>'
        for pitch, name in DRUM_LANES
    )
    return f'<div class="lanes" aria-hidden="true">{labels}</div>'


def _roll(
    visualizer_id: str,
    seconds: float,
    pixels_per_second: int,
    beat_seconds: float,
    described: str,
    offset: float = 0.0,
    src: str | None = None,
) -> str:
    """A piano roll over a grid of beats (light) and 4/4 bars (dark), with a playhead and its drum
    lanes labelled. It scrolls sideways in a narrow window, so it takes keyboard focus."""
    source = f' src="{src}"' if src else ""
    beat, bar = beat_seconds * pixels_per_second, 4 * beat_seconds * pixels_per_second
    grid = (
        f"background-image:repeating-linear-gradient(to right,#8d96a8 0 1px,transparent 1px {bar:.3f}px),"
        f"repeating-linear-gradient(to right,#e1e5ec 0 1px,transparent 1px {beat:.3f}px);"
        f"width:{seconds * pixels_per_second + 1:.0f}px"
    )
    return (
        f'<div class="rollbox">{_lane_labels()}'
        f'<div class="roll" role="img" tabindex="0" aria-label="{html.escape(described)}"'
        f' data-offset="{offset:.6f}" data-seconds="{seconds:.6f}">'
        f'<midi-visualizer type="piano-roll" id="{visualizer_id}" data-pixels-per-second="{pixels_per_second}"'
        f' style="{grid}"{source}></midi-visualizer><div class="playhead"></div></div></div>'
    )


def beat_card(
    variant: str,
    name: str,
    midi_path,
    audio_path=None,
    segment_bars: int | None = None,
    humanized: bool = False,
) -> str:
    """One beat: audio player, MIDI player + piano roll(s), MIDI download link.

    `humanized`: the beat's GrooVAE-humanized version (labelled so, its own ids and file name)."""
    from beatvae.midi import midi_length_seconds

    identifier = element_id(variant, name, *(["humanized"] if humanized else []))
    midi_uri = data_uri(midi_path)
    seconds = midi_length_seconds(midi_path)
    beat_seconds = _beat_seconds(midi_path)
    spoken = f"{variant} {name}" + (" (humanized)" if humanized else "")  # names each control of the card
    label = html.escape(Path(name).name) + (' <span class="tag">humanized</span>' if humanized else "")
    parts = [
        f'<article class="{"beat humanized" if humanized else "beat"}" id="{identifier}"'
        f' data-name="{html.escape(spoken)}">',
        f'<h4><span title="{html.escape(name)}">{label}</span>'
        f'<a download="{identifier}.mid" href="{midi_uri}">MIDI<span class="visually-hidden"> of '
        f"{html.escape(spoken)}</span> ↓</a></h4>",
    ]
    if audio_path is not None:
        parts.append(
            f'<audio controls loop preload="metadata" aria-label="audio of {html.escape(spoken)}"'
            f' src="{data_uri(audio_path)}"></audio>'
        )
    if segment_bars:
        parts += _interpolation_rolls(identifier, spoken, midi_path, midi_uri, seconds, beat_seconds, segment_bars)
    else:
        # The piano roll comes first: the player looks its visualizer up when it is parsed.
        described = f"piano roll of {spoken}: {hits_in_words(midi_path)} in {seconds:.0f} s"
        parts.append(
            _roll(f"{identifier}-roll", seconds, SAMPLE_PIXELS_PER_SECOND, beat_seconds, described, src=midi_uri)
        )
        parts.append(
            f'<midi-player data-seconds="{seconds:.6f}" src="{midi_uri}" visualizer="#{identifier}-roll"></midi-player>'
        )
    parts.append("</article>")
    return "\n".join(parts)


def _interpolation_rolls(identifier, spoken, midi_path, midi_uri, seconds, beat_seconds, segment_bars) -> list[str]:
    """The whole interpolation plays; its steps are drawn one per row on a shared time axis."""
    parts = [
        '<span class="label">MIDI player (built-in synth)</span>',
        f'<midi-player data-seconds="{seconds:.6f}" src="{midi_uri}"></midi-player>',
        '<div class="steps">',
    ]
    for number, (offset, length, piece) in enumerate(midi_segments(midi_path, segment_bars), start=1):
        described = f"piano roll of step {number} of {spoken}: {hits_in_words(piece)} in {length:.0f} s"
        parts.append(f'<span class="label">step {number}<br>{offset:.0f} s</span>')
        parts.append(
            _roll(
                f"{identifier}-step{number}",
                length,
                STEP_PIXELS_PER_SECOND,
                beat_seconds,
                described,
                offset,
                data_uri(piece, "audio/midi"),
            )
        )
    parts.append("</div>")
    return parts
