"""The sampled drum kits the report page's beat explorer plays beats with: one short mono OGG Vorbis
per General MIDI drum kit and per drum pitch the models write, rendered from a soundfont with
fluidsynth (the same renderer as the page's audio) and vendored as one JSON file of base64 audio
(report/vendor/drum-kits-fluidr3.json), so building the page never needs fluidsynth.

To regenerate the vendored file (fluidsynth, oggenc and Debian's fluid-soundfont-gm): `make drum-kits`,
that is `python -m beatvae.drum_kits /usr/share/sounds/sf2/FluidR3_GM.sf2 report/vendor/drum-kits-fluidr3.json`.
"""

from __future__ import annotations

import base64
import json
import sys
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from beatvae.files import scratch_folder, written_atomically
from beatvae.page_cards import DRUM_LANES
from beatvae.render import encode_ogg, render_audio

# General MIDI 2's drum kits: a program change on channel 10 selects one (bank 128 of a GM soundfont).
KITS = {"standard": 0, "room": 8, "power": 16, "electronic": 24, "TR-808": 25, "jazz": 32, "brush": 40}
# The first pitch of each of Magenta's reduced drum classes: every note a model or humanizing writes.
KIT_PITCHES = tuple(pitch for pitch, _ in DRUM_LANES)

SAMPLE_RATE = 22050
VELOCITY = 100  # each drum rendered once; the page scales it by a note's velocity
MAX_SECONDS = 1.5  # a crash rings for longer, but a beat's next hit covers it
FADE_SECONDS = 0.05  # no click where a sample is cut short
SILENCE = 10 ** (-60 / 20)  # the tail below -60 dBFS is cut
HIT_SPACING_SECONDS = 3.0  # between the hits of one kit's render: past any kept sample and fluidsynth's release
QUIET_BEFORE_HIT_SECONDS = 0.5  # All Sound Off this long before each hit (after MAX_SECONDS of the one before)
OGG_QUALITY = 2  # oggenc -q: transparent enough for drum hits, about 40 kbit/s at 22.05 kHz mono
TICKS_PER_QUARTER = 480
QPM = 120
ALL_SOUND_OFF = 120  # the MIDI controller that silences a channel at once


def kit_midi(program: int, pitches: Sequence[int], path) -> Path:
    """A MIDI file that selects drum kit `program` on channel 10, then hits each of `pitches` once,
    HIT_SPACING_SECONDS apart (the first at 0), and ends HIT_SPACING_SECONDS after the last. Each hit
    after the first is preceded by All Sound Off, so that no cymbal's tail rings into the next."""
    import mido

    spacing = round(HIT_SPACING_SECONDS * QPM / 60 * TICKS_PER_QUARTER)
    quiet = round(QUIET_BEFORE_HIT_SECONDS * QPM / 60 * TICKS_PER_QUARTER)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(QPM), time=0)])
    track.append(mido.Message("program_change", channel=9, program=program, time=0))
    for index, pitch in enumerate(pitches):
        if index:  # fluidsynth acts on an event a few milliseconds late: silence well before the next hit
            track.append(
                mido.Message("control_change", channel=9, control=ALL_SOUND_OFF, value=0, time=spacing - quiet)
            )
        track.append(mido.Message("note_on", channel=9, note=pitch, velocity=VELOCITY, time=quiet - 1 if index else 0))
        track.append(mido.Message("note_off", channel=9, note=pitch, velocity=0, time=1))
    track.append(mido.MetaMessage("end_of_track", time=spacing - 1))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.append(track)
    midi.save(str(path))
    return Path(path)


def read_mono_wav(path) -> np.ndarray:
    """A 16-bit PCM WAV as float samples in [-1, 1], its channels averaged."""
    with wave.open(str(path), "rb") as wav:
        channels = wav.getnchannels()
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
    return frames.reshape(-1, channels).mean(axis=1)


def trimmed(hit: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One drum hit made short: from its first sample above SILENCE (fluidsynth starts a note a few
    milliseconds late) to where it falls below SILENCE for good or MAX_SECONDS later, whichever comes
    first, with a FADE_SECONDS fade-out so that the cut does not click."""
    loud = np.flatnonzero(np.abs(hit) >= SILENCE)
    if len(loud) == 0:
        raise ValueError("a silent drum hit: the soundfont has no sample for it")
    hit = hit[loud[0] : min(loud[-1] + 1, loud[0] + round(MAX_SECONDS * sample_rate))].copy()
    fade = min(len(hit), round(FADE_SECONDS * sample_rate))
    hit[len(hit) - fade :] *= np.linspace(1, 0, fade, dtype=np.float32)
    return hit


def write_wav(path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes((np.clip(audio, -1, 1) * 32767).round().astype("<i2").tobytes())
    return Path(path)


def render_kit(soundfont, name: str, program: int, pitches: Sequence[int], folder) -> dict[int, bytes]:
    """{pitch: OGG Vorbis bytes} of kit `program`: one fluidsynth render of all its hits, cut apart."""
    folder = Path(folder)
    wav = render_audio(
        kit_midi(program, pitches, folder / f"{name}.mid"), folder / f"{name}.wav", soundfont, SAMPLE_RATE
    )
    audio = read_mono_wav(wav)
    spacing = round(HIT_SPACING_SECONDS * SAMPLE_RATE)
    samples = {}
    for index, pitch in enumerate(pitches):
        hit = write_wav(folder / f"{name}-{pitch}.wav", trimmed(audio[index * spacing : (index + 1) * spacing]))
        samples[pitch] = encode_ogg(hit, folder / f"{name}-{pitch}.ogg", OGG_QUALITY).read_bytes()
    return samples


def render_kits(
    soundfont, out_path, kits: Mapping[str, int] = KITS, pitches: Sequence[int] = KIT_PITCHES
) -> dict[str, int]:
    """Writes the page's kits file: {"soundfont", "sampleRate", "velocity", "kits": {name: {"program",
    "samples": {pitch: base64 OGG}}}}. Returns {kit: bytes of its OGG files}."""
    out_path = Path(out_path)
    rendered, sizes = {}, {}
    with scratch_folder(out_path) as folder:
        for name, program in kits.items():
            samples = render_kit(soundfont, name, program, pitches, folder)
            sizes[name] = sum(map(len, samples.values()))
            encoded = {str(pitch): base64.b64encode(data).decode("ascii") for pitch, data in samples.items()}
            rendered[name] = {"program": program, "samples": encoded}
    document = {"soundfont": Path(soundfont).name, "sampleRate": SAMPLE_RATE, "velocity": VELOCITY, "kits": rendered}
    with written_atomically(out_path, ".partial.json") as partial:
        partial.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return sizes


def load_kits(path) -> dict:
    """The kits file as written by render_kits."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


if __name__ == "__main__":
    soundfont, out = sys.argv[1:3]
    for kit, size in render_kits(soundfont, out).items():
        print(f"{kit}: {size:,} bytes of OGG")
    print(f"{out}: {Path(out).stat().st_size:,} bytes")
