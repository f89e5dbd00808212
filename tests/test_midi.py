"""Generated MIDI files loop in a DAW: read back with independent readers (mido, pretty_midi)."""

import mido
import pretty_midi
import pytest
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from beatvae.midi import midi_length_seconds, retimed, write_midi


def magenta_decoded(last_step=55, pitches=(36, 38, 42), velocity=80):
    """What Magenta's drum decoder returns: 120 qpm, one 16th per note, ending at its last note."""
    sequence = music_pb2.NoteSequence(ticks_per_quarter=220)
    sequence.tempos.add(qpm=120)
    for step in range(0, last_step + 1, 2):
        pitch = pitches[step // 2 % len(pitches)]
        sequence.notes.add(
            pitch=pitch,
            velocity=velocity,
            start_time=step * 0.125,
            end_time=(step + 1) * 0.125,
            is_drum=True,
            instrument=9,
        )
    sequence.total_time = (last_step + 1) * 0.125
    return sequence


def bar_ticks(midi, bars, quarters_per_bar=4):
    return bars * quarters_per_bar * midi.ticks_per_beat


def check_loop(path, bars, qpm):
    midi = mido.MidiFile(path)
    tracks_with_notes = [track for track in midi.tracks if any(m.type == "note_on" for m in track)]
    assert len(midi.tracks) == 1 and len(tracks_with_notes) == 1, "one drum track, no extra empty track"
    messages = list(tracks_with_notes[0])
    assert {m.channel for m in messages if m.type in ("note_on", "note_off")} == {9}, "drums on GM channel 10"
    tempos = [m for m in messages if m.type == "set_tempo"]
    assert [mido.tempo2bpm(m.tempo) for m in tempos] == [pytest.approx(qpm, rel=1e-6)]
    assert [(m.numerator, m.denominator) for m in messages if m.type == "time_signature"] == [(4, 4)]
    assert messages[-1].type == "end_of_track"
    assert sum(m.time for m in messages) == bar_ticks(midi, bars), "end of track must fall on the last bar line"
    assert {m.velocity for m in messages if m.type == "note_on"} == {80}, "velocities stay as the model gave them"
    assert midi_length_seconds(path) == pytest.approx(bars * 4 * 60 / qpm, rel=1e-6)


@pytest.mark.parametrize("qpm", [120, 93])
@pytest.mark.parametrize("last_step", [63, 40])
def test_a_four_bar_sample_loops_even_when_its_last_notes_come_early(tmp_path, qpm, last_step):
    path = write_midi(retimed(magenta_decoded(last_step), qpm, num_bars=4), tmp_path / "sample.mid")
    check_loop(path, bars=4, qpm=qpm)
    # pretty_midi, another reader: one drum instrument, the notes where they were.
    midi = pretty_midi.PrettyMIDI(str(path))
    assert [(i.is_drum, i.program) for i in midi.instruments] == [(True, 0)]
    assert midi.instruments[0].notes[1].start == pytest.approx(2 * 0.125 * 120 / qpm, abs=1e-3)
    assert midi.get_end_time() <= 4 * 4 * 60 / qpm + 1e-6


def test_an_interpolation_of_eight_steps_is_thirty_two_bars(tmp_path):
    qpm = 100
    steps = [retimed(magenta_decoded(last_step), qpm, num_bars=4) for last_step in (63, 30, 50, 61, 12, 63, 47, 58)]
    joined = sequences_lib.concatenate_sequences(steps, [steps[0].total_time] * len(steps))
    check_loop(write_midi(joined, tmp_path / "interpolation.mid"), bars=32, qpm=qpm)
    check_loop(write_midi(steps[4], tmp_path / "step_04.mid"), bars=4, qpm=qpm)


def test_a_silent_sample_is_still_four_bars(tmp_path):
    silent = magenta_decoded()
    del silent.notes[:]
    midi = mido.MidiFile(write_midi(retimed(silent, 120, num_bars=4), tmp_path / "silent.mid"))
    assert sum(m.time for m in midi.tracks[0]) == bar_ticks(midi, 4)
    assert not list((tmp_path).glob("*.partial"))


def same_pitch_overlaps(path) -> list[tuple[int, int]]:
    """(pitch, tick) of every note-on that comes while a note of the same pitch still sounds."""
    sounding, overlaps, now = set(), [], 0
    for message in mido.MidiFile(path).tracks[0]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            if message.note in sounding:
                overlaps.append((message.note, now))
            sounding.add(message.note)
        elif message.type in ("note_off", "note_on"):
            sounding.discard(message.note)
    return overlaps


def test_hits_of_one_pitch_never_overlap_and_a_double_hit_keeps_the_louder(tmp_path):
    """Humanized onsets move while lengths stay: each note ends where the next of its pitch starts."""
    sequence = magenta_decoded(last_step=63, pitches=(42,))
    for note, shift in zip(sequence.notes, [0.0, -0.2, 0.1, -0.05] * 8, strict=False):
        note.start_time = max(0.0, note.start_time + shift * 0.125 * 2)
        note.end_time = note.start_time + 0.3  # longer than the gap to the next hit
    sequence.notes.add(pitch=42, velocity=110, start_time=0.0, end_time=0.1, is_drum=True)  # a double hit
    path = write_midi(retimed(sequence, 120, num_bars=4), tmp_path / "humanized.mid")
    assert same_pitch_overlaps(path) == []
    note_ons = [m for m in mido.MidiFile(path).tracks[0] if m.type == "note_on" and m.velocity > 0]
    assert len(note_ons) == 32, "every hit kept, the double hit once"
    assert note_ons[0].velocity == 110, "of two hits on one tick the louder is kept"
