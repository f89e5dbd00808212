"""The `beatvae` command (the package's console script) refuses bad input in one line naming the file
and what is wrong, before loading TensorFlow. What it writes from a trained model is checked against
the workflow's own outputs in tests/test_humanize.py (a trained beat and groove model)."""

import subprocess
import sys
from pathlib import Path

import mido
import pytest

BEATVAE = Path(sys.executable).with_name("beatvae")


def beatvae(*args, timeout=120):
    return subprocess.run([str(BEATVAE), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def piano_only(path):
    track = mido.MidiTrack([mido.Message("note_on", channel=0, note=60, velocity=90, time=0)])
    track.append(mido.Message("note_off", channel=0, note=60, velocity=0, time=480))
    midi = mido.MidiFile(type=0)
    midi.tracks.append(track)
    midi.save(path)
    return path


def fake_model_folder(path):
    path.mkdir()
    (path / "training.json").write_text("{}")
    return path


def test_the_command_is_installed_with_the_package():
    assert BEATVAE.exists(), "make setup installs the package's console script"
    result = beatvae("--help")
    assert result.returncode == 0 and all(
        name in result.stdout for name in ("sample", "interpolate", "humanize", "info")
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["sample", "{tmp}/no-model", "-o", "{tmp}/out"], "{tmp}/no-model: no such model folder"),
        (["info", "{tmp}/half-model"], "{tmp}/half-model is not a trained model folder: checkpoint is missing"),
        (
            ["interpolate", "{tmp}/no-model", "{tmp}/text.mid", "{tmp}/text.mid", "-o", "{tmp}/out"],
            "{tmp}/text.mid: not a readable MIDI file",
        ),
        (
            ["interpolate", "{tmp}/no-model", "{tmp}/piano.mid", "{tmp}/piano.mid", "-o", "{tmp}/out"],
            "{tmp}/piano.mid: no drum notes",
        ),
        (
            ["humanize", "{tmp}/no-model", "{tmp}/missing.mid", "-o", "{tmp}/out.mid"],
            "{tmp}/missing.mid: no such MIDI file",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_file(tmp_path, args, expected):
    (tmp_path / "text.mid").write_text("not midi")
    piano_only(tmp_path / "piano.mid")
    fake_model_folder(tmp_path / "half-model")
    result = beatvae(*(arg.format(tmp=tmp_path) for arg in args))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"beatvae {args[0]}: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert expected.format(tmp=tmp_path) in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-n", "1000"], "1000 is outside 1-256"),
        (["-t", "0"], "0.0 is not above 0"),
        (["--qpm", "fast"], "'fast' is not a number"),
        (["--seed", "1.5"], "'1.5' is not an integer"),
    ],
)
def test_options_out_of_bounds_are_refused_naming_the_option(tmp_path, args, expected):
    result = beatvae("sample", tmp_path, "-o", tmp_path / "out", *args)
    assert result.returncode == 2 and expected in result.stderr, result.stderr


@pytest.mark.parametrize(
    "key", ["generation.num_samples", "generation.qpm", "generation.interpolation.num_steps", "generation.seed"]
)
def test_option_bounds_are_the_config_schemas(key):
    """The command accepts what the workflow accepts: bounds read from config/schema.yaml, not typed again."""
    import argparse

    from beatvae.cli import SEED_MAX, _within
    from beatvae.schema import setting_schema

    entry = setting_schema(key)
    parse, high = _within(key, SEED_MAX), entry.get("maximum", SEED_MAX)
    assert parse(str(entry["minimum"])) == entry["minimum"] and parse(str(high)) == high
    for outside in (entry["minimum"] - 1, high + 1):
        with pytest.raises(argparse.ArgumentTypeError, match=f"outside {entry['minimum']}-{high}"):
            parse(str(outside))
