"""The data half of the DAG run for real on the embedded GMD sample, in a temporary folder.

download_gmd -> unpack_gmd -> build_metadata -> filter_subset -> convert_tfrecord -> tensorize,
checked against info.csv and against Magenta itself (convert_dir_to_note_sequences, DrumsConverter);
then rerun semantics, config validation and failure modes. No mocks. Tests of the finished data
run are slow; config validation and a failed download need none and run in the fast tier.
"""

import hashlib
import json
import os
import re
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from beatvae.dataset import Windows, read_note_sequences
from conftest import REPO, SAMPLE, SMOKE_CONFIG, output_of, run_snakemake

CONFIG = REPO / "config/config.yaml"
SAMPLE_GMD = yaml.safe_load(SMOKE_CONFIG.read_text())["gmd"]

SUBSETS = ["v1", "v2"]
SPLITS = ["train", "validation", "test"]
TARGETS = [
    "results/metadata/gmd.parquet",
    *(f"results/tensors/{subset}/drums-4bar/{split}.npz" for subset in SUBSETS for split in SPLITS),
    # The default config's groove variant: a second representation of the same subset beside the first.
    *(f"results/tensors/v1/groove-4bar-humanize/{split}.npz" for split in SPLITS),
]
V2_FILTERS_LINE = 'filters: {style: rock, beat_type: beat, time_signature: "4-4"}'
AUDIO_LINE = "audio:\n  enabled: true\n"


def base_config_text():
    """config/config.yaml on the embedded sample (the default corpus, the whole GMD, takes too long for
    a test) and with audio off (nothing in the data half renders audio). Everything else is verbatim."""
    text = CONFIG.read_text()
    default_gmd = yaml.safe_load(text)["gmd"]
    for key in ("url", "sha256"):
        line = f"  {key}: {default_gmd[key]}\n"
        assert text.count(line) == 1, line
        text = text.replace(line, f"  {key}: {SAMPLE_GMD[key]}\n")
    assert text.count(AUDIO_LINE) == 1
    return text.replace(AUDIO_LINE, "audio:\n  enabled: false\n")


@pytest.fixture(scope="module")
def base_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "config.yaml"
    path.write_text(base_config_text())
    return path


def write_config(path, transform):
    """The base config, loaded, changed by `transform(dict)`, written to `path`."""
    config = yaml.safe_load(base_config_text())
    transform(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def files_under(folder):
    folder = Path(folder)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture(scope="module")
def data_run(tmp_path_factory, base_config):
    workdir = tmp_path_factory.mktemp("workflow")
    started = time.monotonic()
    result = run_snakemake(workdir, *TARGETS, configfile=base_config)
    assert result.returncode == 0, output_of(result)
    print(f"\ndata half of the DAG ran in {time.monotonic() - started:.1f} s")
    return workdir


@pytest.fixture(scope="module")
def info():
    with zipfile.ZipFile(SAMPLE) as archive, archive.open("groove/info.csv") as handle:
        return pd.read_csv(handle)


@pytest.fixture(scope="module")
def magenta():
    """Magenta's own converters, imported in this process to check the pipeline's outputs."""
    import note_seq
    import tensorflow as tf
    from magenta.models.music_vae import data
    from magenta.scripts import convert_dir_to_note_sequences

    return note_seq, tf, data, convert_dir_to_note_sequences


def read_records(path):
    return list(read_note_sequences(path))


def converted_records(path, split):
    """The NoteSequences of a split as the workflow hands them to Magenta's converter: the training
    split's without the ghost notes config.yaml's drums-4bar leaves out, held-out splits as played."""
    from beatvae.dataset import without_ghost_notes

    below = yaml.safe_load(CONFIG.read_text())["representations"]["drums-4bar"].get(
        "drop_training_ghost_notes_below", 0
    )
    records = read_records(path)
    return [without_ghost_notes(sequence, below) for sequence in records] if split == "train" else records


def magenta_converter(data):
    """DrumsConverter as config.yaml's drums-4bar representation asks for, every window kept."""
    settings = {"steps_per_quarter": 4, "quarters_per_bar": 4}  # the schema's defaults
    settings.update(yaml.safe_load(CONFIG.read_text())["representations"]["drums-4bar"])
    return data.DrumsConverter(
        steps_per_quarter=settings["steps_per_quarter"],
        quarters_per_bar=settings["quarters_per_bar"],
        slice_bars=settings["slice_bars"],
        roll_input=settings["roll_input"],
        max_tensors_per_notesequence=None,
    )


# ---------------------------------------------------------------- outputs


@pytest.mark.slow
def test_all_requested_outputs_exist(data_run):
    for target in TARGETS:
        assert (data_run / target).is_file(), target
    for subset in SUBSETS:
        assert (data_run / f"results/subsets/{subset}.parquet").is_file()
    assert (data_run / "results/download/gmd.zip").read_bytes() == SAMPLE.read_bytes()


@pytest.mark.slow
def test_metadata_parquet(data_run, info):
    metadata = pd.read_parquet(data_run / "results/metadata/gmd.parquet")
    assert len(metadata) == 138 == len(info)
    assert sorted(metadata["path"]) == sorted(info["midi_filename"])
    assert metadata["split"].value_counts().to_dict() == info["split"].value_counts().to_dict()
    assert str(metadata["bpm"].dtype) == "int32" and str(metadata["duration"].dtype) == "float64"
    rejects = pd.read_csv(data_run / "results/metadata/rejects.tsv", sep="\t")
    assert list(rejects.columns) == ["path", "reason"] and rejects.empty


@pytest.mark.slow
def test_subsets_follow_their_filters(data_run, info):
    metadata = pd.read_parquet(data_run / "results/metadata/gmd.parquet")
    v1 = pd.read_parquet(data_run / "results/subsets/v1.parquet")
    v2 = pd.read_parquet(data_run / "results/subsets/v2.parquet")

    assert (v1["time_signature"] == "4-4").all()
    assert sorted(v1["path"]) == sorted(metadata.loc[metadata["time_signature"] == "4-4", "path"])
    assert len(v1) == 136  # the sample's one 3-4 and one 6-8 file are left out

    assert len(v2) > 0
    assert (v2["style"] == "rock").all() and (v2["beat_type"] == "beat").all()
    assert (v2["time_signature"] == "4-4").all()
    # Cross-check with info.csv, whose style is "rock" or "rock/<substyle>".
    rock_beats = info[
        (info["style"].str.split("/").str[0] == "rock")
        & (info["beat_type"] == "beat")
        & (info["time_signature"] == "4-4")
    ]
    assert sorted(v2["path"]) == sorted(rock_beats["midi_filename"])
    assert list(v2.columns) == list(metadata.columns)


@pytest.mark.slow
@pytest.mark.parametrize("subset", SUBSETS)
def test_tfrecords_hold_magenta_note_sequences(data_run, magenta, subset):
    note_seq, tf, _, convert_dir = magenta
    table = pd.read_parquet(data_run / f"results/subsets/{subset}.parquet")
    gmd_root = data_run / "results/gmd/groove"
    for split in SPLITS:
        records = read_records(data_run / f"results/tfrecord/{subset}/{split}.tfrecord")
        expected_paths = list(table.loc[table["split"] == split, "path"])
        assert len(records) == len(expected_paths) > 0, (subset, split)
        assert [r.filename for r in records] == expected_paths
        for record in records:
            assert record.collection_name == "groove"
            assert record.id == "/id/midi/groove/" + hashlib.sha1(record.filename.encode("utf-8")).hexdigest()
            assert len(record.notes) > 0
            # Exactly what Magenta's convert_dir_to_note_sequences makes of the same file.
            reference = convert_dir.convert_midi(
                str(gmd_root), os.path.dirname(record.filename), str(gmd_root / record.filename)
            )
            assert record == reference, record.filename


@pytest.mark.slow
@pytest.mark.parametrize("subset", SUBSETS)
def test_tensor_files_shape_and_content(data_run, magenta, subset):
    note_seq, tf, _, _ = magenta
    for split in SPLITS:
        with np.load(data_run / f"results/tensors/{subset}/drums-4bar/{split}.npz", allow_pickle=False) as stored:
            inputs, labels = stored["inputs"], stored["labels"]
            lengths, sources = stored["lengths"], stored["sources"]
        n = len(labels)
        assert n > 0, (subset, split)
        assert inputs.dtype == np.bool_ and inputs.shape == (n, 64, 10)
        assert labels.dtype == np.int16 and labels.shape == (n, 64)
        assert labels.min() >= 0 and labels.max() < 512
        assert lengths.shape == (n,) and (lengths == 64).all()
        assert len(np.unique(labels, axis=0)) == n, "duplicate windows"
        ids = {r.id for r in read_records(data_run / f"results/tfrecord/{subset}/{split}.tfrecord")}
        assert set(sources) <= ids


@pytest.mark.slow
def test_windows_of_one_sequence_equal_magenta_drums_converter(data_run, magenta):
    note_seq, tf, data, _ = magenta
    converter = magenta_converter(data)
    with np.load(data_run / "results/tensors/v1/drums-4bar/train.npz", allow_pickle=False) as stored:
        inputs, labels, sources = stored["inputs"], stored["labels"], stored["sources"]
    records = converted_records(data_run / "results/tfrecord/v1/train.tfrecord", "train")
    # The first sequence that yields windows: no window of it can have been seen before.
    for sequence in records:
        tensors = converter.to_tensors(sequence)
        if len(tensors.outputs):
            break
    else:
        pytest.fail("no sequence in v1/train gives a window")
    outputs = np.asarray(tensors.outputs, dtype=bool)
    expected_inputs = np.asarray(tensors.inputs, dtype=bool)
    assert outputs.shape[1:] == (64, 512) and (outputs.sum(axis=-1) == 1).all()
    _, first = np.unique(outputs.argmax(-1), axis=0, return_index=True)
    keep = np.sort(first)  # Magenta's windows, repeats dropped, in Magenta's order

    mine = sources == sequence.id
    assert mine.sum() == len(keep) > 0
    one_hot = np.eye(512, dtype=bool)[labels[mine]]
    np.testing.assert_array_equal(one_hot, outputs[keep])
    np.testing.assert_array_equal(inputs[mine], expected_inputs[keep])


@pytest.mark.slow
def test_groove_windows_equal_magenta_groove_converter(data_run, magenta):
    """The groove representation's windows are Magenta's GrooveConverter windows (humanize, hits as
    controls), with the tempo of their performance, beside the drum-class windows of the same subset."""
    note_seq, tf, data, _ = magenta
    settings = yaml.safe_load(CONFIG.read_text())["representations"]["groove-4bar-humanize"]
    converter = data.GrooveConverter(
        split_bars=settings["split_bars"],
        hop_size=settings["hop_size"],
        humanize=True,
        hits_as_controls=True,
        max_tensors_per_notesequence=None,
        pitch_classes=data.ROLAND_DRUM_PITCH_CLASSES,
        inference_pitch_classes=data.REDUCED_DRUM_PITCH_CLASSES,
    )
    windows = Windows.load(data_run / "results/tensors/v1/groove-4bar-humanize/validation.npz")
    n = len(windows)
    assert n > 0 and windows.labels.shape == (n, 64, 27) and windows.inputs.shape == (n, 64, 27)
    assert windows.controls.shape == (n, 64, 9) and windows.qpm.shape == (n,) and (windows.qpm > 30).all()
    # humanize: the encoder sees hits only; the hits are also the controls
    assert not windows.inputs[..., 9:].any() and (windows.inputs[..., :9] == windows.controls).all()
    expected = {}
    for sequence in read_records(data_run / "results/tfrecord/v1/validation.tfrecord"):
        for window in converter.to_tensors(sequence).outputs:
            expected.setdefault(np.asarray(window, np.float16).tobytes(), sequence.tempos[0].qpm)
    assert {row.tobytes() for row in windows.labels} == set(expected)
    assert all(expected[row.tobytes()] == qpm for row, qpm in zip(windows.labels, windows.qpm, strict=True))
    assert ((windows.labels[..., 9:18] > 0) == (windows.labels[..., :9] > 0)).all(), "a velocity on every hit only"


@pytest.mark.slow
@pytest.mark.parametrize("subset, split", [("v2", s) for s in SPLITS] + [("v1", "validation"), ("v1", "train")])
def test_split_windows_equal_magenta_windows(data_run, magenta, subset, split):
    """The whole split: the stored windows are exactly Magenta's distinct windows."""
    note_seq, tf, data, _ = magenta
    converter = magenta_converter(data)
    expected = set()
    for sequence in converted_records(data_run / f"results/tfrecord/{subset}/{split}.tfrecord", split):
        for window in converter.to_tensors(sequence).outputs:
            expected.add(np.argmax(window, axis=-1).astype(np.int16).tobytes())
    with np.load(data_run / f"results/tensors/{subset}/drums-4bar/{split}.npz", allow_pickle=False) as stored:
        labels = stored["labels"]
    assert len(labels) == len(expected)
    assert {row.tobytes() for row in labels} == expected


@pytest.mark.slow
def test_window_counts_say_why_files_gave_none(data_run):
    for subset in SUBSETS:
        counts = json.loads((data_run / f"results/tensors/{subset}/drums-4bar/windows.json").read_text())
        table = pd.read_parquet(data_run / f"results/subsets/{subset}.parquet")
        assert list(counts) == SPLITS
        for split in SPLITS:
            with np.load(data_run / f"results/tensors/{subset}/drums-4bar/{split}.npz", allow_pickle=False) as stored:
                assert counts[split]["windows"] == len(stored["labels"]) > 0, (subset, split)
            assert counts[split]["files"] == (table["split"] == split).sum()
            assert counts[split]["files_without_windows"] == sum(counts[split]["why"].values())
    log = (data_run / "results/logs/tensorize/v1/drums-4bar.log").read_text()
    v1_train = json.loads((data_run / "results/tensors/v1/drums-4bar/windows.json").read_text())["train"]
    assert v1_train["why"]["shorter than slice_bars (4 bars)"] > 10  # the sample's fills last a bar or two
    assert "no window (shorter than slice_bars (4 bars)): drummer1/session1/103_funk_95_fill_4-4.mid" in log, log


# ---------------------------------------------------------------- rerun semantics


@pytest.mark.slow
def test_second_dry_run_has_nothing_to_do(data_run, base_config):
    result = run_snakemake(data_run, "-n", *TARGETS, configfile=base_config)
    assert result.returncode == 0, output_of(result)
    assert "Nothing to be done" in result.stdout + result.stderr, output_of(result)
    assert "rule " not in result.stdout, output_of(result)


def summary_plan(result):
    """{output file: (status, plan)} from `snakemake --summary`."""
    plan = {}
    for line in result.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) == 6 and fields[0] != "output_file":
            plan[fields[0]] = (fields[4], fields[5])
    return plan


def dry_run_jobs(result):
    """[(rule, wildcards text)] of the jobs a dry run lists."""
    jobs = []
    for block in re.split(r"^(?=(?:local)?rule \w+:)", result.stdout, flags=re.M):
        match = re.match(r"(?:local)?rule (\w+):", block)
        if match:
            wildcards = re.search(r"^\s+wildcards: (.*)$", block, flags=re.M)
            jobs.append((match.group(1), wildcards.group(1) if wildcards else ""))
    return jobs


@pytest.mark.slow
def test_changing_v2_filters_reruns_only_v2(data_run, tmp_path):
    # Selects the same rows: only the changed params can trigger the rerun.
    new_filters = 'filters: {style: rock, beat_type: beat, time_signature: "4-4", bpm: {min: 0}}'
    text = base_config_text()
    assert text.count(V2_FILTERS_LINE) == 1
    changed = tmp_path / "config.yaml"
    changed.write_text(text.replace(V2_FILTERS_LINE, new_filters))
    old, new = yaml.safe_load(text), yaml.safe_load(changed.read_text())
    assert new["subsets"]["v2"]["filters"] != old["subsets"]["v2"]["filters"]
    new["subsets"]["v2"]["filters"] = old["subsets"]["v2"]["filters"]
    assert new == old, "only v2's filters may differ"

    expected = {
        "results/subsets/v2.parquet",
        *(f"results/tfrecord/v2/{s}.tfrecord" for s in SPLITS),
        *(f"results/tensors/v2/drums-4bar/{s}.npz" for s in SPLITS),
        "results/tensors/v2/drums-4bar/windows.json",
    }
    summary = run_snakemake(data_run, "--summary", *TARGETS, configfile=changed)
    assert summary.returncode == 0, output_of(summary)
    plan = summary_plan(summary)
    assert set(TARGETS) <= set(plan), output_of(summary)
    pending = {path for path, (_, action) in plan.items() if action != "no update"}
    assert pending == expected, output_of(summary)
    assert plan["results/subsets/v2.parquet"][0] == "params changed"

    dry = run_snakemake(data_run, "-n", *TARGETS, configfile=changed)
    assert dry.returncode == 0, output_of(dry)
    jobs = dry_run_jobs(dry)
    assert sorted(jobs) == sorted(
        [
            ("filter_subset", "subset=v2"),
            ("convert_tfrecord", "subset=v2"),
            ("tensorize", "subset=v2, representation=drums-4bar"),
        ]
    ), output_of(dry)


# ---------------------------------------------------------------- failures


@pytest.mark.snakemake
@pytest.mark.parametrize(
    "transform, named",
    [
        (lambda c: c.update(bogus_setting=1), "bogus_setting"),
        (lambda c: c["representations"]["drums-4bar"].update(slice_bars="four"), "slice_bars"),
    ],
    ids=["unknown-top-level-key", "wrong-type"],
)
def test_invalid_config_fails_before_any_job(tmp_path, transform, named):
    workdir = tmp_path / "work"
    workdir.mkdir()
    config = write_config(tmp_path / "config.yaml", transform)
    result = run_snakemake(workdir, *TARGETS, configfile=config, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert named in output, output_of(result)
    assert "validating config" in output.lower(), output_of(result)
    assert "rule download_gmd" not in output and "Job stats" not in output
    assert not (workdir / "results").exists()


def tensorize_added_subset(data_run, tmp_path, name, filters):
    """Adds subset `name` to a copy of the finished data run and asks for its training windows."""
    workdir = tmp_path / "work"
    shutil.copytree(data_run, workdir, symlinks=True)
    config = write_config(tmp_path / "config.yaml", lambda c: c["subsets"].update({name: {"filters": filters}}))
    result = run_snakemake(workdir, f"results/tensors/{name}/drums-4bar/train.npz", configfile=config, timeout=300)
    return workdir, result


@pytest.mark.slow
def test_subset_selecting_nothing_fails_and_its_log_names_it(data_run, tmp_path):
    workdir, result = tensorize_added_subset(
        data_run, tmp_path, "nothing", {"style": "no-such-style", "bpm": {"min": 1}}
    )
    assert result.returncode != 0, output_of(result)
    assert "filter_subset" in result.stdout + result.stderr
    assert "build_metadata" not in result.stdout + result.stderr, "finished upstream jobs were rerun"
    log = (workdir / "results/logs/filter_subset/nothing.log").read_text()
    assert "SubsetError" in log and "'nothing'" in log and "no-such-style" in log, log
    assert not (workdir / "results/subsets/nothing.parquet").exists()
    assert not (workdir / "results/tfrecord/nothing").exists()


@pytest.mark.slow
def test_subset_without_training_windows_fails_naming_why(data_run, tmp_path):
    workdir, result = tensorize_added_subset(data_run, tmp_path, "odd-meters", {"time_signature": ["3-4", "6-8"]})
    assert result.returncode != 0, output_of(result)
    log = (workdir / "results/logs/tensorize/odd-meters/drums-4bar.log").read_text()
    assert (
        "subset 'odd-meters': 2 train files, 0 windows (files without a window: 1 in 3/4, not 4/4; 1 in 6/8, not 4/4)"
        ": nothing to train on"
    ) in log, log
    assert "WARNING" in log and "0 validation files, 0 windows: no held-out metrics on validation" in log, log
    assert not (workdir / "results/tensors/odd-meters/drums-4bar/train.npz").exists()


@pytest.mark.snakemake
def test_wrong_sha256_fails_download_and_leaves_no_archive(tmp_path):
    wrong = "0123456789abcdef" * 4
    workdir = tmp_path / "work"
    workdir.mkdir()
    config = write_config(tmp_path / "config.yaml", lambda c: c["gmd"].update(sha256=wrong))
    result = run_snakemake(workdir, *TARGETS, configfile=config, timeout=300)
    assert result.returncode != 0
    assert "download_gmd" in result.stdout + result.stderr, output_of(result)
    log = (workdir / "results/logs/download_gmd.log").read_text()
    actual = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert wrong in log and actual in log, log
    assert not (workdir / "results/download/gmd.zip").exists()
    assert files_under(workdir / "results/download") == [], "a partial download was left behind"
    assert not (workdir / "results/gmd").exists()
    assert not (workdir / "results/metadata").exists()
