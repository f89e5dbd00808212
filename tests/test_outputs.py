"""What jobs leave behind (issue 19, items 6 and 7): no temporary files after a kill once a rerun
is done, every documented output in the default target, byte-reproducible OGG (and page), and
a full disk during audio named as such. Real fluidsynth, oggenc, Snakemake and a real full tmpfs."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from beatvae.render import DISABLE_HINT, AudioWriteError, encode_ogg, render_loop, render_stems
from conftest import REPO, SMOKE_CONFIG, output_of, run_snakemake, write_config_with

try:  # tests/ as a package or as a plain rootdir-on-sys.path directory
    from .test_humanize import HUMANIZE_CONFIG, drummers_file
    from .test_render import SOUNDFONT, drum_sequence, loop_midi, needs_fluidsynth, needs_oggenc
except ImportError:
    from test_humanize import HUMANIZE_CONFIG, drummers_file
    from test_render import SOUNDFONT, drum_sequence, loop_midi, needs_fluidsynth, needs_oggenc

AUDIO = shutil.which("fluidsynth") is not None and SOUNDFONT.is_file() and shutil.which("oggenc") is not None
TAG = "temp0.5-seed2018"
# Made on the way to the rest and named nowhere in README's "What comes out": the archive and its unpacked tree.
INTERMEDIATE = {"results/download/gmd.zip", "results/gmd"}


def leftovers(folder):
    """Temporary files and folders of unfinished writes under `folder` (hidden or `.partial`/`.tmp`);
    Snakemake's own marker in directory outputs is not one."""
    return sorted(
        str(path.relative_to(folder))
        for path in Path(folder).rglob("*")
        if (path.name.startswith(".") and path.name != ".snakemake_timestamp")
        or re.search(r"\.(partial|tmp|part|probe)\b", path.name)
    )


# ---------------------------------------------------------------- the default target asks for everything


def job_outputs(dry_run_stdout):
    """{rule: [output paths]} of every job in a dry run's listing, and the inputs of `all`."""
    outputs, all_inputs = {}, []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run_stdout):
        match = re.match(r"(?:local)?rule (\w+):", block)
        if not match:
            continue
        for kind, paths in re.findall(r"^\s+(input|output): (.*)$", block, flags=re.M):
            if match[1] == "all" and kind == "input":
                all_inputs += paths.split(", ")
            elif kind == "output":
                outputs.setdefault(match[1], []).extend(paths.split(", "))
    return outputs, set(all_inputs)


@pytest.mark.snakemake
def test_every_file_a_job_makes_is_asked_for_by_the_default_target(tmp_path):
    """A file that only feeds another job is never remade by Snakemake once that job is done; so
    every documented output must be a target of `all` itself (beats, groove, humanized, audio)."""
    user_file = drummers_file(tmp_path)
    config = write_config_with(
        HUMANIZE_CONFIG,
        tmp_path / "c.yaml",
        audio=True,
        **{"humanize.files": [str(user_file)], "audio.with_tail": True, "audio.stems": True},
    )
    result = run_snakemake(tmp_path, "-n", configfile=config, timeout=300)
    assert result.returncode == 0, output_of(result)
    outputs, targets = job_outputs(result.stdout)
    assert {"sample_beats", "interpolate_beats", "evaluate_model", "evaluate_groove", "encode_audio"} <= set(outputs)
    made = {path for paths in outputs.values() for path in paths}
    assert not sorted(made - targets - INTERMEDIATE), "made by jobs but not asked for by `all`"


# ---------------------------------------------------------------- reproducible OGG


@needs_oggenc
def test_the_same_wav_encodes_to_the_same_ogg_bytes(tmp_path):
    import soundfile

    seconds = np.arange(22050 * 2) / 22050
    soundfile.write(tmp_path / "beat.wav", 0.3 * np.sin(2 * np.pi * 220 * seconds), 22050, subtype="PCM_16")
    first = encode_ogg(tmp_path / "beat.wav", tmp_path / "a" / "beat.ogg").read_bytes()
    second = encode_ogg(tmp_path / "beat.wav", tmp_path / "b" / "beat.ogg").read_bytes()
    assert first[:4] == b"OggS" and first == second


# ---------------------------------------------------------------- a killed render leaves nothing once rerun

# As scripts/render_audio.py runs it.
KILLABLE_RENDER = """
import sys
from beatvae.logs import exit_on_sigterm
from beatvae.render import render_loop
with exit_on_sigterm():
    render_loop(sys.argv[1], sys.argv[2], sys.argv[3], 44100)
"""


def wait_for(condition, process, timeout=120, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the process ended before {what}: {output_of_process(process)}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


def output_of_process(process):
    out, err = process.communicate(timeout=30)
    return f"{out}\n{err}"


@needs_fluidsynth
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_render_killed_mid_fluidsynth_leaves_nothing_once_rendered_again(tmp_path, signum):
    """SIGTERM (Snakemake stopping, scancel): nothing left at once. SIGKILL: what it leaves goes
    when the loop is rendered again."""
    midi = loop_midi(tmp_path / "long.mid", 64, 120)  # two minutes of audio: fluidsynth runs a while
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    process = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_RENDER, str(midi), str(out / "long.wav"), str(SOUNDFONT)],
        env=env,
        start_new_session=True,  # its own process group: fluidsynth dies with it, as under Snakemake
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: any("partial" in p.name for p in out.rglob("*")), process, what="fluidsynth writing")
    finally:
        os.killpg(process.pid, signum)
        process.wait(timeout=30)
    assert not (out / "long.wav").exists()
    if signum == signal.SIGTERM:
        assert process.returncode == 128 + signal.SIGTERM and leftovers(out) == []
        return
    assert leftovers(out), "the kill came too late to leave anything"

    render_loop(midi, out / "long.wav", SOUNDFONT, 44100)
    assert (out / "long.wav").stat().st_size > 1_000_000
    assert leftovers(out) == []


@needs_fluidsynth
def test_rendering_removes_the_raw_renders_killed_jobs_of_earlier_versions_left(tmp_path):
    stale = tmp_path / ".render-k3x9q1ab"  # tempfile's random folder of earlier versions
    stale.mkdir()
    (stale / "raw.wav.partial.wav").write_bytes(bytes(1000))
    render_loop(loop_midi(tmp_path / "beat.mid", 4, 120), tmp_path / "beat.wav", SOUNDFONT, 22050)
    assert leftovers(tmp_path) == [] and (tmp_path / "beat.wav").is_file()


# ---------------------------------------------------------------- a full disk named as such


@pytest.fixture
def full_disk(tmp_path):
    """A real 64 KiB tmpfs: anything bigger than that fails to be written with ENOSPC."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def assert_names_the_full_disk(error, path):
    message = str(error.value)
    assert message.startswith(f"No space left on device writing {path}: free space on its disk"), message
    assert DISABLE_HINT in message and message.count("\n") <= 2, message


@needs_fluidsynth
def test_a_full_disk_while_rendering_names_the_loop_and_leaves_nothing(full_disk, tmp_path):
    midi = loop_midi(tmp_path / "beat.mid", 4, 120)
    wav = full_disk / "audio" / "beat.wav"
    with pytest.raises(AudioWriteError) as error:
        render_loop(midi, wav, SOUNDFONT, 44100)
    assert_names_the_full_disk(error, wav)
    assert leftovers(full_disk) == [] and not wav.exists()


@needs_fluidsynth
def test_a_full_disk_while_writing_a_silent_stem_names_the_stem(full_disk, tmp_path):
    from beatvae.metrics import DRUM_CLASS_NAMES
    from beatvae.midi import write_midi

    sequence = drum_sequence(4)
    del sequence.notes[:]  # hats only: the kick's stem (the first) is written as silence by libsndfile
    sequence.notes.add(pitch=42, velocity=80, start_time=0.0, end_time=0.1, is_drum=True, instrument=9)
    midi = write_midi(sequence, tmp_path / "hats.mid")
    stems = [full_disk / "stems" / f"{name}.wav" for name in DRUM_CLASS_NAMES]
    with pytest.raises(AudioWriteError) as error:
        render_stems(midi, stems, SOUNDFONT, 44100)
    assert_names_the_full_disk(error, stems[0])
    assert leftovers(full_disk) == []


@needs_oggenc
def test_a_full_disk_while_encoding_names_the_ogg(full_disk, tmp_path):
    import soundfile

    soundfile.write(tmp_path / "noise.wav", np.random.default_rng(0).uniform(-0.5, 0.5, (44100 * 20, 2)), 44100)
    ogg = full_disk / "noise.ogg"
    with pytest.raises(AudioWriteError) as error:
        encode_ogg(tmp_path / "noise.wav", ogg)
    assert_names_the_full_disk(error, ogg)
    assert leftovers(full_disk) == [] and not ogg.exists()


# ---------------------------------------------------------------- the whole workflow: delete, kill, rerun


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A complete tiny run of the default target (audio on where the tools are installed)."""
    workdir = tmp_path_factory.mktemp("finished")
    config = write_config_with(SMOKE_CONFIG, workdir / "smoke.yaml", AUDIO)
    run_snakemake(workdir, configfile=config, check=True, timeout=1500)
    return workdir, config


def copy_of(finished, tmp_path):
    """A copy of the finished run to spoil (mtimes and Snakemake's metadata kept)."""
    workdir = shutil.copytree(finished[0], tmp_path / "work", symlinks=True)
    return workdir, workdir / finished[1].name


# One output of each kind that no other target of `all` used to ask for (README's "What comes out").
DOCUMENTED = [
    "results/metadata/rejects.tsv",
    "results/metadata/gmd.tfrecord",
    "results/subsets/rock-beats.parquet",
    "results/tfrecord/rock-beats/test.tfrecord",
    "results/tensors/rock-beats/drums-4bar/test.npz",
    "results/tensors/rock-beats/drums-4bar/windows.json",
    "results/models/tiny",
    f"results/samples/tiny/{TAG}/sample_01.mid",
    f"results/samples/tiny/{TAG}/latents.npy",
    f"results/interpolations/tiny/{TAG}/interpolation.mid",
    f"results/interpolations/tiny/{TAG}/step_02.mid",
    "results/eval/tiny.json",
    *([f"results/audio/tiny/{TAG}/sample_00.ogg"] if AUDIO else []),
]


@pytest.mark.slow
def test_a_deleted_output_of_any_kind_is_made_again_by_a_plain_run(finished, tmp_path):
    workdir, config = copy_of(finished, tmp_path)
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in DOCUMENTED:
        moved = aside / uuid.uuid4().hex
        (workdir / path).rename(moved)  # keeps its mtime for the way back
        try:
            result = run_snakemake(workdir, "-n", configfile=config, check=True, timeout=300)
            reasons = re.findall(r"reason: Missing output files: (.*)", result.stdout)
            assert any(path in reason.split(", ") for reason in reasons), f"{path}: {output_of(result)}"
        finally:
            moved.rename(workdir / path)
    assert "Nothing to be done" in run_snakemake(workdir, "-n", configfile=config, check=True).stdout

    # What an interrupted `--forcerun sample_beats` leaves (its outputs deleted, the rest done): a
    # plain run remakes them.
    gone = [f"results/samples/tiny/{TAG}/{name}" for name in ("latents.npy", "sample_00.mid")]
    gone.append("results/eval/tiny.json")
    for path in gone:
        (workdir / path).unlink()
    run_snakemake(workdir, configfile=config, check=True, timeout=900)
    assert all((workdir / path).stat().st_size > 0 for path in gone)
    assert np.load(workdir / gone[0]).shape[0] == 2


@pytest.mark.slow
@pytest.mark.skipif(not AUDIO, reason="needs fluidsynth, fluid-soundfont-gm and vorbis-tools")
def test_ogg_and_the_page_are_the_same_bytes_when_made_again(finished, tmp_path):
    workdir, config = copy_of(finished, tmp_path)
    files = [f"results/audio/tiny/{TAG}/sample_00.ogg", f"results/audio/tiny/{TAG}/interpolation.ogg"]
    files.append("results/report/beats.html")
    before = {path: (workdir / path).read_bytes() for path in files}
    run_snakemake(workdir, "--forcerun", "encode_audio", "build_report_page", configfile=config, check=True)
    assert all((workdir / path).stat().st_mtime > (finished[0] / path).stat().st_mtime for path in files)
    assert {path: (workdir / path).read_bytes() for path in files} == before


@pytest.mark.slow
@pytest.mark.skipif(not AUDIO, reason="needs fluidsynth, fluid-soundfont-gm and vorbis-tools")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_audio_job_leaves_nothing_once_the_workflow_runs_again(finished, tmp_path, signum):
    """Snakemake and its render_audio job (fluidsynth mid-render) killed as a process group. SIGTERM
    (scancel, `kill -- -PGID`): the job removes its temporaries at once. SIGKILL: the next plain run
    (after the `--unlock` a killed Snakemake needs) leaves no temporary file."""
    workdir, config = copy_of(finished, tmp_path)
    audio = workdir / "results/audio/tiny" / TAG
    shutil.rmtree(audio)
    command = [
        sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--cores", "1", "--workflow-profile", "none", "--configfile", str(config),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=workdir, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(
            lambda: audio.is_dir() and any("partial" in p.name for p in audio.rglob("*")),
            process,
            timeout=600,
            what="render_audio's fluidsynth writing",
        )
    finally:
        os.killpg(process.pid, signum)
        process.wait(timeout=120)
    if signum == signal.SIGTERM:
        assert leftovers(audio) == [], (workdir / "results/logs/render_audio/tiny.log").read_text()[-3000:]
    else:
        assert leftovers(audio), "the kill came too late to leave anything"

    run_snakemake(workdir, "--unlock", configfile=config, check=True)
    result = run_snakemake(workdir, "--rerun-incomplete", configfile=config, check=True, timeout=900)
    assert leftovers(workdir / "results") == [], output_of(result)
    for name in ("sample_00", "sample_01", "interpolation"):
        assert (audio / f"{name}.wav").stat().st_size > 100_000 and (audio / f"{name}.ogg").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.skipif(not AUDIO, reason="needs fluidsynth, fluid-soundfont-gm and vorbis-tools")
def test_a_full_disk_fails_the_audio_job_naming_the_file_and_what_to_do(finished, tmp_path, full_disk):
    workdir, config = copy_of(finished, tmp_path)
    audio = workdir / "results/audio/tiny" / TAG
    shutil.rmtree(audio)
    audio.symlink_to(full_disk)  # results/audio/tiny/<tag> on a full disk
    result = run_snakemake(workdir, f"results/audio/tiny/{TAG}/sample_00.wav", configfile=config, timeout=600)
    assert result.returncode != 0
    log = (workdir / "results/logs/render_audio/tiny.log").read_text()
    expected = f"No space left on device writing results/audio/tiny/{TAG}/sample_00.wav: free space on its disk"
    assert expected in log.strip().splitlines()[-1], log[-3000:]
    assert "System error" not in log and leftovers(full_disk) == []
