"""The vendored corpora and what the data stages do with bad inputs, kills and leftovers."""

import csv
import io
import os
import pickle
import subprocess
import zipfile
from collections import Counter

import numpy as np
import pytest
import yaml

from beatvae.download import resolve_url, sha256_of
from conftest import DRUMS, REPO, SAMPLE

FULL = REPO / "data/gmd-full/groove-v1.0.0-midionly.zip"
AUTHORS = "Jon Gillick, Adam Roberts, Jesse Engel, Douglas Eck and David Bamman"


# ---------------------------------------------------------------- the vendored corpora


def test_default_config_reads_the_vendored_whole_gmd():
    gmd = yaml.safe_load((REPO / "config/config.yaml").read_text())["gmd"]
    assert resolve_url(gmd["url"], REPO) == FULL.as_uri(), "the default corpus must live inside the checkout"
    assert sha256_of(FULL) == gmd["sha256"] == "5ba772a766c49671d558eb728d70f7456d15d6c81148171878203789a0f7d5b1"
    with zipfile.ZipFile(FULL) as archive, archive.open("groove/info.csv") as handle:
        rows = list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8")))
        midi = [name for name in archive.namelist() if name.lower().endswith((".mid", ".midi"))]
    assert len(rows) == len(midi) == 1150
    assert Counter(row["split"] for row in rows) == {"train": 897, "validation": 124, "test": 129}
    assert Counter(row["beat_type"] for row in rows) == {"beat": 503, "fill": 647}


def test_configs_never_point_outside_the_checkout():
    for config in [*REPO.glob("config/*.yaml"), *REPO.glob("tests/config/*.yaml")]:
        gmd = yaml.safe_load(config.read_text()).get("gmd", {})
        url = gmd.get("url", "")
        assert "shared" not in url, f"{config}: gmd.url {url} reads outside the project"
        if "://" not in url and url:
            assert (REPO / url).resolve().is_relative_to(REPO), f"{config}: gmd.url {url} is outside the checkout"
            assert (REPO / url).is_file(), f"{config}: gmd.url {url} does not exist"


@pytest.mark.parametrize("readme", ["data/gmd-full/README.md", "data/gmd-sample/README.md", "README.md"])
def test_attribution_names_the_real_authors(readme):
    text = " ".join((REPO / readme).read_text().split())
    assert AUTHORS in text, readme
    assert "CC BY 4.0" in text and "Norouzi" not in text, readme


def test_no_tracked_file_credits_the_wrong_author():
    tracked = subprocess.run(
        ["git", "grep", "-l", "Norouzi", "--", ":!tests/test_data_integrity.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert tracked.stdout == "", tracked.stdout


# ------------------------------------------------------------ files that give no window are counted, with the reason

WALTZ = "drummer1/session2/6_rock_102_beat_3-4.mid"
SIX_EIGHT = "drummer6/session1/1_rock_70_beat_6-8.mid"
SHORT_FILL = "drummer1/session1/103_funk_95_fill_4-4.mid"
BEAT = "drummer1/session2/2_rock_102_beat_4-4.mid"


@pytest.fixture(scope="module")
def sample_sequences(tmp_path_factory):
    """NoteSequences of a few sample files, parsed as build_metadata parses them."""
    from beatvae.dataset import midi_to_note_sequence

    folder = tmp_path_factory.mktemp("gmd")
    with zipfile.ZipFile(SAMPLE) as archive:
        archive.extractall(folder)
        beats = [n[len("groove/") :] for n in archive.namelist() if n.endswith("_beat_4-4.mid")]
    long_beat = max(beats, key=lambda name: (folder / "groove" / name).stat().st_size)
    names = {"waltz": WALTZ, "six_eight": SIX_EIGHT, "short_fill": SHORT_FILL, "beat": long_beat}
    return {key: midi_to_note_sequence(folder / "groove", name) for key, name in names.items()}


def without_drums(sequence):
    changed = type(sequence)()
    changed.CopyFrom(sequence)
    for note in changed.notes:
        note.is_drum = False
    return changed


def with_silence(sequence, from_bar, to_bar, end_bar):
    """Only the notes before `from_bar` and from `to_bar` to `end_bar` (4/4 at the file's tempo)."""
    bar_seconds = 4 * 60.0 / sequence.tempos[0].qpm
    changed = type(sequence)()
    changed.CopyFrom(sequence)
    keep = [
        n
        for n in changed.notes
        if n.start_time < from_bar * bar_seconds or to_bar * bar_seconds <= n.start_time < end_bar * bar_seconds
    ]
    del changed.notes[:]
    changed.notes.extend(keep)
    changed.total_time = max(n.end_time for n in keep)
    return changed


@pytest.mark.tensorflow
def test_each_file_without_windows_is_counted_with_its_reason(sample_sequences):
    from beatvae.dataset import WindowCount, make_converter, windows_from_note_sequences

    s = sample_sequences
    gapped = with_silence(s["beat"], 2, 5, 7)  # two stretches of under 4 bars (notes snap to the next step)
    gapped.filename = "gapped.mid"
    silent = without_drums(s["beat"])
    silent.filename = "no-drums.mid"
    count = WindowCount(DRUMS)
    windows = windows_from_note_sequences(
        [s["beat"], s["waltz"], s["six_eight"], s["short_fill"], silent, gapped, s["beat"]],
        make_converter(DRUMS),
        64,
        count,
    )
    assert len(windows) == count.windows > 0
    assert count.files == 7
    assert count.repeated_windows >= count.windows  # the beat's second copy repeats all of its windows
    assert count.without_windows == {
        "in 3/4, not 4/4": [WALTZ],
        "in 6/8, not 4/4": [SIX_EIGHT],
        "shorter than slice_bars (4 bars)": [SHORT_FILL],
        "no drum notes": ["no-drums.mid"],
        "no 4-bar stretch without a 1-bar silence": ["gapped.mid"],
    }
    summary = count.summary()
    assert summary["files_without_windows"] == 5 and sum(summary["why"].values()) == 5
    assert count.describe("train").startswith(
        f"7 train files, {count.windows} windows (files without a window: 1 in 3/4, not 4/4;"
    )


@pytest.mark.tensorflow
def test_a_train_split_without_windows_fails_naming_why(sample_sequences, caplog):
    from beatvae.dataset import (
        NoTrainingWindows,
        WindowCount,
        check_window_counts,
        make_converter,
        windows_from_note_sequences,
    )

    converter = make_converter(DRUMS)
    counts = {split: WindowCount(DRUMS) for split in ("train", "validation", "test")}
    windows_from_note_sequences(
        [sample_sequences["waltz"], sample_sequences["six_eight"]], converter, 64, counts["train"]
    )
    windows_from_note_sequences([sample_sequences["short_fill"]], converter, 64, counts["validation"])
    with pytest.raises(NoTrainingWindows) as caught:
        check_window_counts("odd-meters", counts)
    assert str(caught.value) == (
        "subset 'odd-meters': 2 train files, 0 windows "
        "(files without a window: 1 in 3/4, not 4/4; 1 in 6/8, not 4/4): nothing to train on"
    )

    windows_from_note_sequences([sample_sequences["beat"]], converter, 64, counts["train"])
    caplog.clear()
    with caplog.at_level("WARNING"):
        check_window_counts("odd-meters", counts)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "subset 'odd-meters': 1 validation files, 0 windows "
        "(files without a window: 1 shorter than slice_bars (4 bars)): no held-out metrics on validation",
        "subset 'odd-meters': 0 test files, 0 windows: no held-out metrics on test",
    ]


# ---------------------------------------------------------------- no temporaries left behind


def records_then_full_disk(count):
    for index in range(count):
        yield f"record {index}".encode() * 100
    raise OSError(28, "No space left on device")


@pytest.mark.tensorflow
def test_a_failed_tfrecord_write_leaves_nothing(tmp_path):
    from beatvae.dataset import write_records

    target = tmp_path / "gmd.tfrecord"
    with pytest.raises(OSError, match="No space left"):
        write_records(records_then_full_disk(50), target)
    assert sorted(os.listdir(tmp_path)) == []


def test_a_failed_windows_save_leaves_nothing(tmp_path):
    from beatvae.dataset import Windows

    unsaveable = Windows(
        np.zeros((1, 64, 10), bool),
        np.zeros((1, 64), np.int16),
        np.zeros(1, np.int32),
        np.array([lambda: 0], dtype=object),
    )
    # Pickling a local lambda fails: AttributeError up to Python 3.13, PicklingError from 3.14.
    with pytest.raises((AttributeError, pickle.PicklingError), match="pickle"):
        unsaveable.save(tmp_path / "train.npz")
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.tensorflow
def test_temporaries_of_killed_jobs_are_removed_by_the_next_run(tmp_path):
    from beatvae.dataset import Windows, write_records
    from beatvae.metadata import MetadataError, build_metadata

    (tmp_path / "train.npz.tmp.npz").write_bytes(b"half an npz")
    Windows(np.zeros((1, 64, 10), bool), np.zeros((1, 64), np.int16), np.zeros(1, np.int32), np.array(["id"])).save(
        tmp_path / "train.npz"
    )
    (tmp_path / "some.tfrecord.tmp").write_bytes(b"half a tfrecord")
    write_records([b"x"], tmp_path / "some.tfrecord")
    assert sorted(os.listdir(tmp_path)) == ["some.tfrecord", "train.npz"]

    # build_metadata removes its stale temporary at once, not only once it gets to write (it may fail before)
    (tmp_path / "gmd.tfrecord.tmp").write_bytes(b"half a tfrecord")
    (tmp_path / "groove").mkdir()
    (tmp_path / "groove/info.csv").write_text("midi_filename,duration\n")
    with pytest.raises(MetadataError, match="'split'"):
        build_metadata(tmp_path / "groove", note_sequences_path=tmp_path / "gmd.tfrecord")
    assert not (tmp_path / "gmd.tfrecord.tmp").exists()
