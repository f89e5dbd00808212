"""parse_midi_path on real GMD names; build_metadata on the real sample and on damaged trees."""

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from beatvae.metadata import (
    COLUMNS,
    MetadataError,
    ParsedName,
    build_metadata,
    find_gmd_root,
    parse_midi_path,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data/gmd-sample/groove-v1.0.0-midionly-sample.zip"


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    """The sample unpacked with plain zipfile (independent of beatvae.unpack)."""
    folder = tmp_path_factory.mktemp("gmd")
    with zipfile.ZipFile(SAMPLE) as archive:
        archive.extractall(folder)
    return folder / "groove"


@pytest.fixture(scope="module")
def sample_info(sample_root):
    return pd.read_csv(sample_root / "info.csv")


@pytest.fixture(scope="module")
def sample_metadata(sample_root):
    return build_metadata(find_gmd_root(sample_root.parent))


# ---------------------------------------------------------------- parse_midi_path


def test_parse_name_with_substyle():
    parsed = parse_midi_path("drummer1/session1/151_latin-brazilian-baiao_95_fill_4-4.mid")
    assert parsed == ParsedName(
        drummer="drummer1",
        session="drummer1/session1",
        id="drummer1/session1/151",
        style="latin",
        substyle="brazilian-baiao",
        bpm=95,
        beat_type="fill",
        time_signature="4-4",
    )
    assert isinstance(parsed.bpm, int)


def test_parse_eval_session_name():
    parsed = parse_midi_path("drummer1/eval_session/1_funk-groove1_138_beat_4-4.mid")
    assert parsed.drummer == "drummer1"
    assert parsed.session == "drummer1/eval_session"
    assert parsed.id == "drummer1/eval_session/1"
    assert (parsed.style, parsed.substyle) == ("funk", "groove1")
    assert (parsed.bpm, parsed.beat_type, parsed.time_signature) == (138, "beat", "4-4")


def test_parse_name_without_substyle():
    parsed = parse_midi_path("drummer2/session2/12_rock_130_beat_4-4.mid")
    assert (parsed.style, parsed.substyle, parsed.bpm, parsed.beat_type) == ("rock", None, 130, "beat")
    assert parsed.id == "drummer2/session2/12"


def test_parse_other_time_signatures():
    assert parse_midi_path("drummer1/session2/6_rock_102_beat_3-4.mid").time_signature == "3-4"
    assert parse_midi_path("drummer6/session1/1_rock_70_beat_6-8.mid").time_signature == "6-8"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "151_latin-brazilian-baiao_95_fill_4-4.mid",  # no drummer/session folders
        "drummer1/151_latin_95_fill_4-4.mid",  # no session folder
        "drummer1/session1/extra/151_latin_95_fill_4-4.mid",  # one folder too many
        "drummer1/session1/latin_95_fill_4-4.mid",  # no id
        "drummer1/session1/151_latin_fill_4-4.mid",  # no bpm
        "drummer1/session1/151_latin_fast_fill_4-4.mid",  # bpm not a number
        "drummer1/session1/151_latin_95_groove_4-4.mid",  # neither beat nor fill
        "drummer1/session1/151_latin_95_fill.mid",  # no time signature
        "drummer1/session1/151_latin_95_fill_4-4.wav",  # audio, not MIDI
        "drummer1/session1/151_latin_95_fill_4-4.mid.bak",
        "player1/session1/151_latin_95_fill_4-4.mid",  # not a drummer folder
        "drummer1/session1/badly_named.mid",
    ],
)
def test_malformed_names_raise(name):
    with pytest.raises(MetadataError):
        parse_midi_path(name)


def test_every_sample_name_parses_consistently_with_info_csv(sample_info):
    """The path alone must give what GMD's info.csv says (its style is `style/substyle`)."""
    assert len(sample_info) == 138
    for row in sample_info.itertuples():
        parsed = parse_midi_path(row.midi_filename)
        assert parsed.drummer == row.drummer
        assert parsed.session == row.session
        assert parsed.id == row.id
        assert parsed.bpm == row.bpm
        assert parsed.beat_type == row.beat_type
        assert parsed.time_signature == row.time_signature
        expected_style = parsed.style if parsed.substyle is None else f"{parsed.style}/{parsed.substyle}"
        assert expected_style == row.style, row.midi_filename


# ---------------------------------------------------------------- build_metadata on the real sample


def test_sample_metadata_rows_and_types(sample_metadata, sample_info):
    metadata, rejects = sample_metadata
    assert len(metadata) == 138 == len(sample_info)
    assert rejects.empty
    assert list(metadata.columns) == list(COLUMNS)
    assert str(metadata["bpm"].dtype) == "int32"
    assert str(metadata["notes"].dtype) == "int32"
    assert str(metadata["duration"].dtype) == "float64"
    assert str(metadata["bars"].dtype) == "float64"
    for column in ("path", "id", "style", "split", "beat_type", "time_signature"):
        assert isinstance(metadata[column].dtype, pd.StringDtype), column
    assert metadata["path"].is_unique and metadata["id"].is_unique
    assert not metadata.drop(columns="substyle").isna().any().any()


def test_sample_metadata_splits(sample_metadata, sample_info):
    metadata, _ = sample_metadata
    counts = metadata["split"].value_counts().to_dict()
    assert counts == sample_info["split"].value_counts().to_dict()
    # Stated in data/gmd-sample/README.md, checked against info.csv above.
    assert counts == {"train": 108, "validation": 15, "test": 15}
    beat_types = metadata["beat_type"].value_counts().to_dict()
    assert beat_types == {"fill": 77, "beat": 61}


def test_sample_metadata_agrees_with_info_csv(sample_metadata, sample_info):
    metadata, _ = sample_metadata
    info = sample_info.set_index("midi_filename")
    merged = metadata.set_index("path").merge(
        info, left_index=True, right_index=True, how="inner", suffixes=("", "_info")
    )
    assert len(merged) == 138
    assert (merged["split"] == merged["split_info"]).all()
    assert (merged["duration"] == merged["duration_info"].astype(float)).all()
    assert (merged["bpm"] == merged["bpm_info"]).all()


def test_sample_metadata_midi_facts(sample_metadata):
    metadata, _ = sample_metadata
    assert (metadata["notes"] > 0).all()
    assert (metadata["bars"] > 0).all()
    assert (metadata["duration"] > 0).all()
    # GMD MIDI files carry the performance's tempo, so for the typical 4/4 file the bars the MIDI
    # gives equal the bars implied by info.csv's duration and the bpm (bars, not quarters/seconds).
    four_four = metadata[metadata["time_signature"] == "4-4"]
    implied = four_four["duration"] * four_four["bpm"] / 60 / 4
    assert (four_four["bars"] / implied).median() == pytest.approx(1.0, abs=0.01)


def test_metadata_is_deterministic(sample_root, sample_metadata):
    again, _ = build_metadata(sample_root)
    pd.testing.assert_frame_equal(again, sample_metadata[0])


@pytest.mark.tensorflow
def test_parallel_parse_gives_the_same_table_and_the_magenta_note_sequences(sample_root, sample_metadata, tmp_path):
    from beatvae.dataset import read_note_sequences, select_note_sequences, write_note_sequences

    metadata, rejects = build_metadata(
        sample_root, workers=2, note_sequences_path=tmp_path / "all.tfrecord", min_files_per_worker=1
    )
    pd.testing.assert_frame_equal(metadata, sample_metadata[0])
    pd.testing.assert_frame_equal(rejects, sample_metadata[1])
    parsed_once = list(read_note_sequences(tmp_path / "all.tfrecord"))
    assert [s.filename for s in parsed_once] == metadata["path"].tolist()

    some = metadata["path"].iloc[[7, 2, 40]].tolist()  # not in file order: the subset's order is kept
    assert select_note_sequences(tmp_path / "all.tfrecord", some, tmp_path / "some.tfrecord") == 3
    write_note_sequences(sample_root, some, tmp_path / "parsed_again.tfrecord")
    selected, parsed_again = (
        list(read_note_sequences(tmp_path / "some.tfrecord")),
        list(read_note_sequences(tmp_path / "parsed_again.tfrecord")),
    )
    assert [s.filename for s in selected] == some
    assert selected == parsed_again
    assert all(s.id.startswith("/id/midi/groove/") and s.collection_name == "groove" for s in selected)
    assert sum(len(s.notes) for s in selected) == metadata.set_index("path").loc[some, "notes"].sum()

    with pytest.raises(ValueError, match="not among the NoteSequences.*no_such_file"):
        select_note_sequences(
            tmp_path / "all.tfrecord", [some[0], "drummer1/no_such_file.mid"], tmp_path / "bad.tfrecord"
        )
    assert not (tmp_path / "bad.tfrecord").exists()


def test_find_gmd_root(sample_root, tmp_path):
    assert find_gmd_root(sample_root.parent) == sample_root.parent / "groove"
    assert find_gmd_root(sample_root) == sample_root
    with pytest.raises(MetadataError, match="info.csv"):
        find_gmd_root(tmp_path)


def test_build_metadata_without_info_csv(tmp_path):
    with pytest.raises(MetadataError, match="info.csv"):
        build_metadata(tmp_path)


# ---------------------------------------------------------------- damaged trees


@pytest.fixture
def damaged_tree(sample_root, sample_info, tmp_path):
    """Three good files plus one of each kind of problem; returns (root, {path: problem})."""
    root = tmp_path / "groove"
    good = sample_info.iloc[:3]
    for name in good["midi_filename"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_root / name, root / name)
    a_real_midi = sample_root / good["midi_filename"].iloc[0]

    corrupt = "drummer1/session1/901_rock_120_beat_4-4.mid"
    missing = "drummer1/session1/902_rock_120_beat_4-4.mid"
    badly_named = "drummer1/session1/badly_named.mid"
    unlisted = "drummer1/session1/903_funk_100_fill_4-4.mid"
    (root / corrupt).write_bytes(b"this is not a MIDI file\x00\xff" * 8)
    shutil.copy(a_real_midi, root / badly_named)
    shutil.copy(a_real_midi, root / unlisted)

    extra_rows = []
    for name in (corrupt, missing):
        row = good.iloc[0].copy()
        row["midi_filename"] = name
        extra_rows.append(row)
    pd.concat([good, pd.DataFrame(extra_rows)]).to_csv(root / "info.csv", index=False)
    return (
        root,
        list(good["midi_filename"]),
        {
            corrupt: "unreadable MIDI",
            missing: "missing",
            badly_named: "pattern",
            unlisted: "not listed in info.csv",
        },
    )


def test_damaged_tree_rejects_each_problem_with_a_reason(damaged_tree):
    root, good, problems = damaged_tree
    metadata, rejects = build_metadata(root)
    assert sorted(metadata["path"]) == sorted(good)
    assert sorted(rejects["path"]) == sorted(problems)
    assert rejects["path"].is_unique
    reasons = dict(zip(rejects["path"], rejects["reason"], strict=True))
    for path, expected in problems.items():
        assert expected in reasons[path], (path, reasons[path])
    assert list(rejects.columns) == ["path", "reason"]
    assert rejects["reason"].str.len().min() > 10


def test_damaged_tree_keeps_types(damaged_tree):
    metadata, rejects = build_metadata(damaged_tree[0])
    assert str(metadata["bpm"].dtype) == "int32"
    assert str(metadata["duration"].dtype) == "float64"
    assert isinstance(rejects["reason"].dtype, pd.StringDtype)


def test_tree_where_every_file_is_rejected_gives_typed_empty_metadata(tmp_path):
    root = tmp_path / "groove"
    (root / "drummer1" / "session1").mkdir(parents=True)
    (root / "drummer1" / "session1" / "junk.mid").write_bytes(b"junk")
    pd.DataFrame(
        {"midi_filename": ["drummer1/session1/1_rock_100_beat_4-4.mid"], "split": ["train"], "duration": ["1.0"]}
    ).to_csv(root / "info.csv", index=False)
    metadata, rejects = build_metadata(root)
    assert metadata.empty and list(metadata.columns) == list(COLUMNS)
    assert str(metadata["bpm"].dtype) == "int32"
    assert sorted(rejects["path"]) == ["drummer1/session1/1_rock_100_beat_4-4.mid", "drummer1/session1/junk.mid"]


# ---------------------------------------------------------------- parsing processes die with their job

KILLABLE_JOB = """
import sys
from beatvae.logs import exit_on_sigterm
from beatvae.metadata import build_metadata
with exit_on_sigterm():  # as scripts/build_metadata.py runs it
    build_metadata(sys.argv[1], workers=2, min_files_per_worker=1)
"""


@pytest.fixture
def replicated_sample(sample_root, sample_info, tmp_path):
    """The sample eight times over (drummer1 -> drummer101, drummer201, ...): parsing that lasts long enough
    to kill the job while its workers are busy."""
    root = tmp_path / "groove"
    copies = []
    for copy in range(1, 9):
        renamed = sample_info.copy()
        renamed["midi_filename"] = renamed["midi_filename"].str.replace("drummer", f"drummer{copy}0", n=1)
        for source, name in zip(sample_info["midi_filename"], renamed["midi_filename"], strict=True):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(sample_root / source, root / name)
        copies.append(renamed)
    pd.concat(copies).to_csv(root / "info.csv", index=False)
    return root


def alive(processes):
    """The processes still running (a zombie waiting for an absent reaper counts as dead)."""
    import psutil

    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            pass
    return running


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_parsing_processes_die_with_the_killed_job(replicated_sample, signum):
    import psutil

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    job = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_JOB, str(replicated_sample)], env=env, stderr=subprocess.PIPE
    )
    descendants = []
    try:
        deadline = time.monotonic() + 120
        while True:  # until both workers are busy parsing (past start-up, holding their queues)
            assert job.poll() is None, f"the job ended before it could be killed: {job.stderr.read().decode()}"
            assert time.monotonic() < deadline, "the parsing processes never got busy"
            try:
                descendants = psutil.Process(job.pid).children(recursive=True)
                workers = [p for p in descendants if "spawn_main" in " ".join(p.cmdline())]
                if len(workers) == 2 and all(sum(p.cpu_times()[:2]) > 1.0 for p in workers):
                    break
            except psutil.NoSuchProcess:
                pass
            time.sleep(0.1)
        descendants = psutil.Process(job.pid).children(recursive=True)
        os.kill(job.pid, signum)
        job.wait(timeout=60)
        assert job.returncode != 0
        deadline = time.monotonic() + 30
        while alive(descendants) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = alive(descendants)
        assert not survivors, [" ".join(p.cmdline()) for p in survivors]
    finally:
        job.kill()
        job.wait()
        for process in alive(descendants):
            process.kill()


# ---------------------------------------------------------------- info.csv checked, problems named


@pytest.fixture
def small_tree(sample_root, sample_info, tmp_path):
    """Four good files and their info.csv rows; returns (root, info rows as a DataFrame)."""
    root = tmp_path / "groove"
    rows = sample_info.iloc[:4].copy()
    for name in rows["midi_filename"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_root / name, root / name)
    return root, rows.reset_index(drop=True)


def write_info(root, rows):
    rows.to_csv(root / "info.csv", index=False)


def test_info_csv_without_a_required_column_names_the_file_and_column(small_tree):
    root, rows = small_tree
    write_info(root, rows.drop(columns="split"))
    with pytest.raises(MetadataError, match=r"info\.csv lacks the column\(s\) 'split'") as caught:
        build_metadata(root)
    assert str(root / "info.csv") in str(caught.value)


def test_info_csv_listing_a_file_twice_names_the_lines(small_tree):
    root, rows = small_tree
    write_info(root, pd.concat([rows, rows.iloc[[1]]], ignore_index=True))
    with pytest.raises(MetadataError, match="more than once") as caught:
        build_metadata(root)
    assert f"{rows['midi_filename'][1]} (lines 3, 6)" in str(caught.value)


@pytest.mark.parametrize(
    "column, value, reason",
    [
        ("split", "valid", "split 'valid' is not one of train, validation, test"),
        ("split", "", "split '' is not one of"),
        ("duration", "", "duration '' is not a positive number"),
        ("duration", "long", "duration 'long' is not a positive number"),
        ("duration", "-3.5", "duration '-3.5' is not a positive number"),
    ],
)
def test_bad_info_csv_value_rejects_that_file_naming_line_and_column(small_tree, column, value, reason):
    root, rows = small_tree
    rows[column] = rows[column].astype(object)
    rows.loc[2, column] = value
    write_info(root, rows)
    metadata, rejects = build_metadata(root)
    bad = rows["midi_filename"][2]
    assert sorted(metadata["path"]) == sorted(rows["midi_filename"].drop(2))
    assert rejects["path"].tolist() == [bad]
    assert rejects["reason"][0].startswith(f"info.csv line 4: {reason}"), rejects["reason"][0]
    assert set(metadata["split"]) <= {"train", "validation", "test"}


def test_midi_file_without_notes_is_rejected(small_tree):
    import note_seq

    root, rows = small_tree
    silent = note_seq.NoteSequence()
    silent.tempos.add(qpm=120)
    silent.time_signatures.add(numerator=4, denominator=4)
    note_seq.sequence_proto_to_midi_file(silent, str(root / rows["midi_filename"][0]))
    write_info(root, rows)
    metadata, rejects = build_metadata(root)
    assert rejects.to_dict("records") == [{"path": rows["midi_filename"][0], "reason": "the MIDI file holds no notes"}]
    assert len(metadata) == 3 and (metadata["notes"] > 0).all()


@pytest.mark.parametrize(
    "on_disk, listed",
    [(".MID", ".MID"), (".MIDI", ".MIDI"), (".MID", ".mid"), (".Mid", ".mid")],
    ids=["MID", "MIDI", "MID-listed-as-mid", "Mid-listed-as-mid"],
)
def test_upper_case_midi_extensions_are_found(small_tree, on_disk, listed):
    root, rows = small_tree
    name = rows["midi_filename"][0]
    stem = name[: -len(".mid")]
    (root / name).rename(root / (stem + on_disk))
    rows.loc[0, "midi_filename"] = stem + listed
    write_info(root, rows)
    metadata, rejects = build_metadata(root)
    assert rejects.empty, rejects.to_dict("records")
    assert sorted(metadata["path"]) == sorted([stem + on_disk, *rows["midi_filename"][1:]])
