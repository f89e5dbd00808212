"""Users' MIDI files (`humanize.files`, `generation.interpolation.endpoints` with `source: files`) are
checked while planning, with the standard library only: a readable MIDI file with drums on General
MIDI channel 10, in 4/4, with one tempo (humanize) or drums that fill the variants' window
(endpoints), under a name Snakemake can take. Each refusal names the key, the file and what is
wrong. The files are real MIDI files written by pretty_midi (conftest.write_drum_midi) and mido."""

import re
import tempfile
import zipfile
from collections import Counter

import mido
import numpy as np
import pytest

from beatvae.settings import SettingsError, check_drum_midi, check_humanize, check_interpolation
from beatvae.smf import read_midi_facts
from conftest import (
    DRUMS,
    GROOVE,
    REPO,
    SAMPLE,
    SMOKE_CONFIG,
    output_of,
    run_snakemake,
    write_config_with,
    write_drum_midi,
)

HUMANIZE_CONFIG = REPO / "tests/config/humanize.yaml"
VARIANTS = {"beats": {"representation": "drums"}, "groove": {"representation": "groove"}}
REPRESENTATIONS = {"drums": DRUMS, "groove": GROOVE}


def mido_facts(path):
    """({channel: note-ons}, time signatures, tempos, last drum onset) as mido reads the file."""
    notes, signatures, tempos, last = Counter(), [], [], None
    for track in mido.MidiFile(path).tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0:
                notes[message.channel] += 1
                last = max(tick, last or 0) if message.channel == 9 else last
            elif message.type == "time_signature":
                signatures.append((tick, message.numerator, message.denominator))
            elif message.type == "set_tempo":
                tempos.append((tick, message.tempo))
    return dict(notes), signatures, tempos, last


def test_standard_library_reader_agrees_with_mido_on_every_gmd_sample_file():
    with zipfile.ZipFile(SAMPLE) as archive, tempfile.TemporaryDirectory() as folder:
        names = [name for name in archive.namelist() if name.endswith(".mid")]
        assert len(names) > 100
        for name in names:
            path = archive.extract(name, folder)
            facts = read_midi_facts(path)
            found = ({c: p.notes for c, p in facts.parts.items()}, facts.time_signatures, facts.tempos)
            assert (*found, facts.last_drum_onset) == mido_facts(path), name


def humanize_with(files):
    return {"model": "groove", "variants": ["beats"], "files": files}


def test_a_piano_part_to_humanize_is_refused_naming_the_file_channel_and_program(tmp_path):
    write_drum_midi(tmp_path / "piano.mid", drums=False, piano=True)
    with pytest.raises(SettingsError) as refused:
        check_humanize(humanize_with(["piano.mid"]), VARIANTS, REPRESENTATIONS, tmp_path)
    message = str(refused.value)
    assert message.startswith("humanize.files[0]: 'piano.mid' has no drum notes on General MIDI channel 10"), message
    assert "channel 1 (program 1, a piano; track 'Grand'): 48 notes" in message, message


def test_a_file_mixing_drums_and_piano_passes_and_names_its_other_part(tmp_path):
    write_drum_midi(tmp_path / "song.mid", piano=True)
    check_humanize(humanize_with(["song.mid"]), VARIANTS, REPRESENTATIONS, tmp_path)
    facts = check_drum_midi(tmp_path / "song.mid", "humanize.files[0]", "song.mid")
    assert facts.drum_notes == 32
    assert [part.describe() for part in facts.other_parts()] == [
        "channel 2 (program 1, a piano; track 'Grand'): 48 notes"
    ]


def with_tempo_change(path):
    """The file with a second tempo (90 qpm) from its third bar on."""
    midi = mido.MidiFile(path)
    track = midi.tracks[0]
    tick, at = 0, len(track)
    for index, message in enumerate(track):
        if tick + message.time >= 8 * midi.ticks_per_beat:
            at = index
            break
        tick += message.time
    rest = 8 * midi.ticks_per_beat - tick
    track.insert(at, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90), time=rest))
    if at + 1 < len(track):
        track[at + 1] = track[at + 1].copy(time=track[at + 1].time - rest)
    midi.save(path)
    return path


@pytest.mark.parametrize(
    "name, make, named",
    [
        ("waltz.mid", lambda p: write_drum_midi(p, time_signature=(3, 4)), "is in 3/4, but humanize.model 'groove'"),
        ("slower.mid", lambda p: with_tempo_change(write_drum_midi(p)), "changes tempo (90, 120 qpm)"),
        ("cut.mid", lambda p: p.write_bytes(write_drum_midi(p).read_bytes()[:40]), "is not a readable MIDI file"),
        ("my{beat}.mid", write_drum_midi, "Snakemake reads { and } in a path as a wildcard"),
    ],
    ids=["three-four", "tempo-change", "truncated", "braces"],
)
def test_humanize_files_that_cannot_work_are_refused_naming_key_and_file(tmp_path, name, make, named):
    write_drum_midi(tmp_path / "ok.mid")
    make(tmp_path / name)
    with pytest.raises(SettingsError) as refused:
        check_humanize(humanize_with(["ok.mid", name]), VARIANTS, REPRESENTATIONS, tmp_path)
    message = str(refused.value)
    assert message.startswith(f"humanize.files[1]: {name!r}") and named in message, message


def files_endpoints(first, last):
    return {"num_samples": 2, "interpolation": {"endpoints": {"source": "files", "first": first, "last": last}}}


@pytest.mark.parametrize(
    "make_first, make_last, named",
    [
        (write_drum_midi, lambda p: write_drum_midi(p, time_signature=(3, 4)), r"endpoints.last: 'last.mid' is in 3/4"),
        (
            lambda p: write_drum_midi(p, bars=2),
            write_drum_midi,
            r"endpoints.first: 'first.mid': its drums stop in bar 2, but variant 'tiny' encodes a 4-bar window "
            r"\(slice_bars: 4\)",
        ),
        (
            write_drum_midi,
            lambda p: write_drum_midi(p, drums=False, piano=True),
            r"endpoints.last: 'last.mid' has no drum notes .*channel 1 \(program 1, a piano",
        ),
        (lambda p: p.write_text("not MIDI"), write_drum_midi, r"endpoints.first: 'first.mid' is not a readable MIDI"),
    ],
    ids=["last-in-three-four", "first-too-short", "last-a-piano", "first-not-midi"],
)
def test_endpoint_files_are_checked_as_drum_windows_naming_first_or_last(tmp_path, make_first, make_last, named):
    make_first(tmp_path / "first.mid")
    make_last(tmp_path / "last.mid")
    with pytest.raises(SettingsError, match=named):
        check_interpolation(files_endpoints("first.mid", "last.mid"), tmp_path, {"tiny": DRUMS})


def test_endpoint_files_filling_a_window_pass(tmp_path):
    write_drum_midi(tmp_path / "first.mid")
    write_drum_midi(tmp_path / "last.mid", bars=8, piano=True)  # the piano part is not read (drums only)
    check_interpolation(files_endpoints("first.mid", "last.mid"), tmp_path, {"tiny": DRUMS})
    # A window twice as long does not fit the 4-bar file.
    with pytest.raises(
        SettingsError, match=r"endpoints.first: 'first.mid': its drums stop in bar 4, but variant 'long'"
    ):
        check_interpolation(files_endpoints("first.mid", "last.mid"), tmp_path, {"long": dict(DRUMS, slice_bars=8)})


# ---------------------------------------------------------------- while planning (dry runs)


@pytest.mark.snakemake
@pytest.mark.parametrize(
    "base, key, value_of, named",
    [
        (
            HUMANIZE_CONFIG,
            "humanize.files",
            lambda f: [str(write_drum_midi(f / "piano.mid", drums=False, piano=True))],
            r"humanize.files\[0\]: '[^']*piano.mid' has no drum notes .*channel 1 \(program 1, a piano",
        ),
        (
            HUMANIZE_CONFIG,
            "humanize.files",
            lambda f: [str(write_drum_midi(f / "my{beat}.mid"))],
            r"humanize.files\[0\]: '[^']*my\{beat\}.mid': Snakemake reads \{ and \}",
        ),
        (
            SMOKE_CONFIG,
            "generation.interpolation.endpoints",
            lambda f: {
                "source": "files",
                "first": str(write_drum_midi(f / "a.mid")),
                "last": str(write_drum_midi(f / "waltz.mid", time_signature=(3, 4))),
            },
            r"generation.interpolation.endpoints.last: '[^']*waltz.mid' is in 3/4, but variant 'tiny'",
        ),
        (
            SMOKE_CONFIG,
            "generation.interpolation.endpoints",
            lambda f: {
                "source": "files",
                "first": str(write_drum_midi(f / "short.mid", bars=3)),
                "last": str(write_drum_midi(f / "b.mid")),
            },
            r"generation.interpolation.endpoints.first: '[^']*short.mid': its drums stop in bar 3",
        ),
    ],
    ids=["humanize-piano", "humanize-braces", "endpoint-three-four", "endpoint-too-short"],
)
def test_bad_midi_files_fail_while_planning_naming_key_and_file(tmp_path, base, key, value_of, named):
    config = write_config_with(base, tmp_path / "c.yaml", False, **{key: value_of(tmp_path)})
    (tmp_path / "work").mkdir()
    result = run_snakemake(tmp_path / "work", "-n", configfile=config, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output_of(result)
    assert "SettingsError" in output and re.search(named, output), output_of(result)
    assert "Job stats" not in output and "WildcardError" not in output


@pytest.mark.snakemake
def test_drum_files_with_other_parts_pass_planning(tmp_path):
    song = write_drum_midi(tmp_path / "song.mid", piano=True)
    endpoints = {"source": "files", "first": str(song), "last": str(write_drum_midi(tmp_path / "b.mid", bars=6))}
    changes = {"humanize.files": [str(song)], "generation.interpolation.endpoints": endpoints}
    config = write_config_with(HUMANIZE_CONFIG, tmp_path / "c.yaml", False, **changes)
    (tmp_path / "work").mkdir()
    result = run_snakemake(tmp_path / "work", "-n", configfile=config, timeout=120)
    assert result.returncode == 0, output_of(result)
    assert "results/humanized/files/song.mid" in result.stdout


# ---------------------------------------------------------------- in the jobs


def test_humanizing_keeps_only_the_drum_part_and_logs_the_part_left_out(tmp_path, caplog):
    import note_seq

    from beatvae.humanize import HumanizeError, drum_part, read_midi

    song = write_drum_midi(tmp_path / "song.mid", piano=True)
    sequence = read_midi(song)
    with caplog.at_level("WARNING", logger="beatvae.humanize"):
        drums = drum_part(sequence, song, GROOVE)
    assert len(sequence.notes) == 32 + 48 and len(drums.notes) == 32 and all(note.is_drum for note in drums.notes)
    assert f"{song}: left out channel 2 (program 1, a piano; track 'Grand'): 48 notes" in caplog.text, caplog.text
    assert isinstance(drums, note_seq.NoteSequence)
    piano = write_drum_midi(tmp_path / "piano.mid", drums=False, piano=True)
    with pytest.raises(HumanizeError, match=r"piano.mid' has no drum notes .*channel 1 \(program 1, a piano"):
        drum_part(read_midi(piano), piano, GROOVE)


@pytest.mark.tensorflow
def test_interpolation_job_names_the_endpoint_and_file_it_cannot_encode(tmp_path):
    from beatvae.generation import endpoint_latents

    first = write_drum_midi(tmp_path / "first.mid")
    last = write_drum_midi(tmp_path / "last.mid", bars=2)
    endpoints = {"source": "files", "first": "first.mid", "last": "last.mid"}  # as written in the config
    # The window fails before anything is encoded: no model is needed to see the message, which names
    # the file the job read (the workflow resolves the config's paths into the job's `files` input).
    with pytest.raises(ValueError, match=rf"generation.interpolation.endpoints.last: {re.escape(str(last))}: .*4-bar"):
        endpoint_latents(None, endpoints, DRUMS, {"files": [str(first), str(last)]})


def test_interpolation_endpoints_come_from_the_source_the_config_names(tmp_path):
    from beatvae.generation import endpoint_latents

    latents = tmp_path / "latents.npy"
    np.save(latents, np.arange(12, dtype=np.float32).reshape(3, 4))
    first, last = endpoint_latents(None, {"source": "samples", "first": 2, "last": 0}, DRUMS, {"latents": latents})
    assert first.tolist() == [8, 9, 10, 11] and last.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"endpoints \[0, 3\] name samples beyond the 3 generated"):
        endpoint_latents(None, {"source": "samples", "first": 0, "last": 3}, DRUMS, {"latents": latents})
    with pytest.raises(ValueError, match="unknown interpolation endpoint source 'somewhere'"):
        endpoint_latents(None, {"source": "somewhere", "first": 0, "last": 1}, DRUMS, {})


@pytest.mark.tensorflow
def test_an_endpoint_files_other_parts_do_not_change_its_window(tmp_path):
    import note_seq

    from beatvae.generation import opening_window

    windows = [
        opening_window(note_seq.midi_file_to_note_sequence(str(write_drum_midi(tmp_path / name, piano=piano))), DRUMS)
        for name, piano in (("song.mid", True), ("drums.mid", False))
    ]
    assert windows[0].inputs[0].any()
    assert (windows[0].inputs[0] == windows[1].inputs[0]).all(), "the piano part was read as drums"
