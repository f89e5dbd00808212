"""The humanize stage end to end on the real GMD sample: a tiny beats variant and a tiny GrooVAE
variant trained by the workflow; their generated beats and a drummer's MIDI file (as a user's own
file) come out humanized through Snakemake, with piano rolls and audio. Then the humanized MIDI is
read back and checked note by note against its original (slow tier: the workflow trains both).
The planning checks, dry runs included, need no model and run in the fast tier."""

import math
import re
import shutil
import zipfile
from collections import defaultdict
from pathlib import Path

import mido
import pytest

from beatvae.settings import SettingsError, check_humanize, humanize_files
from conftest import DRUMS, GROOVE, REPO, SAMPLE, output_of, run_snakemake, write_config_with, write_drum_midi
from test_midi import same_pitch_overlaps

HUMANIZE_CONFIG = REPO / "tests/config/humanize.yaml"
AUDIO = shutil.which("fluidsynth") is not None and Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").exists()
AUDIO = AUDIO and shutil.which("oggenc") is not None
TAG = "temp0.5-seed2018"
NAMES = [f"{TAG}/sample_00", f"{TAG}/sample_01", f"{TAG}/interpolation"]
ORIGINALS = {
    f"{TAG}/sample_00": f"samples/tiny/{TAG}/sample_00.mid",
    f"{TAG}/sample_01": f"samples/tiny/{TAG}/sample_01.mid",
    f"{TAG}/interpolation": f"interpolations/tiny/{TAG}/interpolation.mid",
}


def write_config(path, **changes):
    return write_config_with(HUMANIZE_CONFIG, path, AUDIO, **changes)


def drummers_file(folder):
    """The shortest 4/4 beat of the GMD sample, as a user's own (already played) drum MIDI file."""
    with zipfile.ZipFile(SAMPLE) as archive:
        beats = [info for info in archive.infolist() if info.filename.endswith("_beat_4-4.mid")]
        shortest = min(beats, key=lambda info: info.file_size)
        path = folder / "my_groove.mid"
        path.write_bytes(archive.read(shortest))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("humanize")
    user_file = drummers_file(workdir)
    config = write_config(workdir / "humanize.yaml", **{"humanize.files": [str(user_file)]})
    targets = [
        *(f"results/humanized/tiny/{name}.mid" for name in NAMES),
        "results/humanized/files/my_groove.mid",
        *(f"results/pianorolls/humanized/tiny/{name}.png" for name in NAMES),
        *(f"results/audio/humanized/tiny/{name}.ogg" for name in NAMES if AUDIO),
        "results/report/beats.html",
    ]
    run_snakemake(workdir, *targets, configfile=config, cores=1, check=True, timeout=1200)
    return workdir, config, user_file


def onsets(path):
    """{pitch: sorted onset seconds}, velocities, and the tempo of a type-0 drum MIDI file."""
    midi = mido.MidiFile(path)
    assert midi.type == 0 and len(midi.tracks) == 1, path
    tempo, now, by_pitch, velocities = None, 0.0, defaultdict(list), []
    for message in midi.tracks[0]:
        if message.type == "set_tempo":
            tempo = message.tempo
        now += mido.tick2second(message.time, midi.ticks_per_beat, tempo or 500_000)
        if message.type == "note_on" and message.velocity > 0:
            assert message.channel == 9, f"{path}: a note off the General MIDI drum channel"
            by_pitch[message.note].append(now)
            velocities.append(message.velocity)
    return {pitch: sorted(times) for pitch, times in by_pitch.items()}, velocities, tempo


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_humanized_beat_keeps_every_note_and_the_loop_with_played_velocities_and_timing(run, name):
    workdir, _, _ = run
    original = workdir / "results" / ORIGINALS[name]
    humanized = workdir / "results/humanized/tiny" / f"{name}.mid"
    before, velocities_before, tempo = onsets(original)
    after, velocities_after, tempo_after = onsets(humanized)
    step = tempo / 1e6 / 4
    tick = tempo / 1e6 / mido.MidiFile(humanized).ticks_per_beat

    assert tempo_after == tempo
    # Same loop: the end-of-track is where the original's is (4 bars per sample, 2 x 4 for the interpolation).
    assert mido.MidiFile(humanized).length == pytest.approx(mido.MidiFile(original).length, abs=1e-9)
    assert {pitch: len(times) for pitch, times in after.items()} == {p: len(t) for p, t in before.items()}
    assert len(set(velocities_before)) == 1, "the generated beat is quantized at one velocity"
    assert len(set(velocities_after)) > 1, f"{humanized}: velocities {sorted(set(velocities_after))}"
    assert same_pitch_overlaps(humanized) == [], "a gated sampler would cut the later hit short"
    moved = []
    for pitch, times in before.items():
        for old, new in zip(times, after[pitch], strict=True):
            assert abs(old / step - round(old / step)) < 1e-6, "the original is on the 16th grid"
            assert abs(new - old) <= step / 2 + tick, f"pitch {pitch}: {old:.4f} s -> {new:.4f} s"
            moved.append(abs(new - old))
    off_grid = sum(shift >= tick * 0.99 for shift in moved)
    assert off_grid / len(moved) > 0.2, f"only {off_grid} of {len(moved)} onsets left the grid"


@pytest.mark.slow
def test_users_file_is_humanized_through_snakemake(run):
    workdir, _, user_file = run
    humanized = workdir / "results/humanized/files/my_groove.mid"
    before, _, tempo = onsets(user_file)
    after, velocities, tempo_after = onsets(humanized)
    assert tempo_after == tempo
    assert {pitch: len(times) for pitch, times in after.items()} == {p: len(t) for p, t in before.items()}
    assert len(set(velocities)) > 1
    assert same_pitch_overlaps(humanized) == []
    bar = 4 * tempo / 1e6
    length = mido.MidiFile(humanized).length
    assert length == pytest.approx(math.ceil(mido.MidiFile(user_file).length / bar - 1e-6) * bar, abs=1e-6)
    log = (workdir / "results/logs/humanize_files/my_groove.log").read_text()
    assert "my_groove.mid" in log and "velocity" in log and "ms on average" in log, log


@pytest.mark.slow
def test_humanized_beats_have_piano_rolls_and_audio(run):
    workdir, _, _ = run
    for name in NAMES:
        assert (workdir / "results/pianorolls/humanized/tiny" / f"{name}.png").stat().st_size > 10_000
        if AUDIO:
            assert (workdir / "results/audio/humanized/tiny" / f"{name}.ogg").stat().st_size > 1_000
    assert "humanizing 3 MIDI files" in (workdir / "results/logs/humanize_beats/tiny.log").read_text()


@pytest.mark.slow
def test_report_page_shows_each_humanized_beat_after_its_original(run):
    workdir, _, _ = run
    page = (workdir / "results/report/beats.html").read_text()
    cards = re.findall(r'<article class="beat[^"]*" id="([^"]+)"', page)
    assert cards == [
        f"tiny-{name}".replace(".", "-").replace("/", "-") + kind for name in NAMES for kind in ("", "-humanized")
    ]
    assert page.count("<midi-player ") == 2 * len(NAMES)
    if AUDIO:
        assert page.count("<audio ") == 2 * len(NAMES)


@pytest.mark.slow
def test_unreadable_midi_fails_naming_the_file(run, tmp_path):
    from beatvae.humanize import HumanizeError, humanize_midi_files

    workdir, _, _ = run
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd not really a MIDI file")
    with pytest.raises(HumanizeError, match="broken.mid"):
        humanize_midi_files(workdir / "results/models/groove-tiny", [broken], [tmp_path / "out.mid"], 0.5, 1)
    assert not (tmp_path / "out.mid").exists()


@pytest.mark.snakemake
def test_default_target_asks_for_the_humanized_outputs(tmp_path):
    user_file = drummers_file(tmp_path)
    config = write_config(tmp_path / "c.yaml", **{"humanize.files": [str(user_file)]})
    for workdir in ("with", "without"):
        (tmp_path / workdir).mkdir()
    result = run_snakemake(tmp_path / "with", "-n", configfile=config, timeout=120)
    assert result.returncode == 0, output_of(result)
    for rule in ("humanize_beats", "humanize_files", "plot_humanized_piano_rolls", "build_report_page"):
        assert re.search(rf"^rule {rule}:", result.stdout, flags=re.M), rule
    assert "results/humanized/files/my_groove.mid" in result.stdout
    without = write_config(tmp_path / "without.yaml", humanize={"model": None})
    result = run_snakemake(tmp_path / "without", "-n", configfile=without, timeout=120)
    assert result.returncode == 0, output_of(result)
    assert not re.search(r"^rule \w*humanize", result.stdout, flags=re.M) and "results/humanized" not in result.stdout


@pytest.mark.snakemake
def test_a_model_that_does_not_humanize_fails_while_planning_naming_the_key(tmp_path):
    config = write_config(tmp_path / "c.yaml", **{"humanize.model": "tiny"})
    result = run_snakemake(tmp_path, "-n", configfile=config, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "humanize.model" in output and "SettingsError" in output, output_of(result)
    assert "Job stats" not in output


# ---------------------------------------------------------------- planning checks (no Snakemake)

VARIANTS = {"beats": {"representation": "drums"}, "groove": {"representation": "groove"}}
REPRESENTATIONS = {
    "drums": {"converter": "DrumsConverter"},
    "groove": {"converter": "GrooveConverter", "humanize": True},
}


@pytest.mark.parametrize(
    "humanize, named",
    [
        ({"model": "beats"}, r"humanize.model: 'beats' is not a GrooveConverter variant"),
        ({"model": "nope"}, r"humanize.model: 'nope' is not a declared variant"),
        ({"model": "groove", "variants": ["beats", "groove"]}, r"humanize.variants\[1\]: 'groove'"),
        ({"model": None, "variants": ["beats"]}, r"humanize.variants lists \['beats'\], but humanize.model is null"),
        ({"model": "groove", "files": ["no/such.mid"]}, r"humanize.files\[0\]: no MIDI file 'no/such.mid'"),
    ],
)
def test_check_humanize_names_the_key(humanize, named):
    with pytest.raises(SettingsError, match=named):
        check_humanize(humanize, VARIANTS, REPRESENTATIONS, REPO)


def test_groove_representation_without_humanize_is_refused():
    representations = dict(REPRESENTATIONS, groove={"converter": "GrooveConverter", "humanize": False})
    with pytest.raises(SettingsError, match="humanize.model: 'groove' has a representation without humanize"):
        check_humanize({"model": "groove"}, VARIANTS, representations, REPO)


def test_files_resolve_against_the_workflow_folder_and_may_not_share_a_stem(tmp_path):
    for folder in ("a", "b"):
        write_drum_midi(tmp_path / folder / "groove.mid")
    # The files are read while planning (tests/test_midi_inputs.py): representations as the schema fills them.
    representations = {"drums": DRUMS, "groove": GROOVE}
    humanize = {"model": "groove", "files": ["a/groove.mid"]}
    check_humanize(humanize, VARIANTS, representations, tmp_path)
    assert humanize_files(humanize, tmp_path) == {"groove": tmp_path / "a/groove.mid"}
    with pytest.raises(SettingsError, match=r"humanize.files\[1\]: 'b/groove.mid' and 'a/groove.mid'"):
        check_humanize(dict(humanize, files=["a/groove.mid", "b/groove.mid"]), VARIANTS, representations, tmp_path)


@pytest.mark.slow
def test_the_beatvae_command_makes_what_the_workflow_makes(run, tmp_path):
    """`beatvae` over the run's own model folders: the same functions as the jobs, so the workflow's
    settings give the workflow's files byte for byte; an interpolation between two of its beats loops."""
    from test_cli import beatvae
    from test_midi import same_pitch_overlaps

    workdir, _, user_file = run
    results = workdir / "results"
    samples = tmp_path / "samples"
    made = beatvae("sample", results / "models/tiny", "-n", 2, "-t", 0.5, "--seed", 2018, "-o", samples, timeout=300)
    assert made.returncode == 0, made.stderr
    assert made.stdout.split() == [str(samples / "sample_00.mid"), str(samples / "sample_01.mid")]
    for name in ("sample_00.mid", "sample_01.mid"):
        assert (samples / name).read_bytes() == (results / "samples/tiny" / TAG / name).read_bytes(), name

    humanized = tmp_path / "my_groove.mid"
    made = beatvae("humanize", results / "models/groove-tiny", user_file, "-o", humanized, timeout=300)
    assert made.returncode == 0, made.stderr
    assert humanized.read_bytes() == (results / "humanized/files/my_groove.mid").read_bytes()

    walk = tmp_path / "walk"
    first, last = (results / "samples/tiny" / TAG / name for name in ("sample_00.mid", "sample_01.mid"))
    made = beatvae("interpolate", results / "models/tiny", first, last, "--steps", 3, "-o", walk, timeout=300)
    assert made.returncode == 0, made.stderr
    assert mido.MidiFile(walk / "interpolation.mid").length == pytest.approx(3 * 4 * 2.0)  # 3 x 4 bars at 120 qpm
    assert [mido.MidiFile(walk / f"step_{i:02d}.mid").length for i in range(3)] == pytest.approx([8.0] * 3)
    assert same_pitch_overlaps(walk / "interpolation.mid") == []

    about = beatvae("info", results / "models/groove-tiny")
    assert about.returncode == 0 and "GrooveConverter" in about.stdout and "groove (humanize)" in about.stdout
