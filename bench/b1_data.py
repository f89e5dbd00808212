"""Benchmark 1: MIDI -> NoteSequences -> DrumsConverter windows at GMD scale, ours vs Magenta's.

The vendored 138-file sample is replicated (distinct, GMD-conformant names, matching info.csv
rows) to `--files` files. Both paths run in this process after a warm-up that imports
TensorFlow/note_seq/magenta, so import cost is excluded from both equally.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from common import CORES, SAMPLE_ZIP, WORK, load_representation, loadavg, log, save, summary


def build_tree(root: Path, num_files: int) -> int:
    """Writes `num_files` MIDI files (copies of the sample under new ids) plus info.csv into root."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    with zipfile.ZipFile(SAMPLE_ZIP) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("groove/info.csv").decode())))
        midi = {row["midi_filename"]: archive.read("groove/" + row["midi_filename"]) for row in rows}
    fields = list(rows[0])
    out_rows = []
    copy = 0
    while len(out_rows) < num_files:
        for row in rows:
            if len(out_rows) == num_files:
                break
            folder, name = row["midi_filename"].rsplit("/", 1)
            number, rest = name.split("_", 1)
            new_number = str(copy * 10000 + int(number))
            new_name = f"{folder}/{new_number}_{rest}"
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / new_name).write_bytes(midi[row["midi_filename"]])
            new_row = dict(
                row,
                midi_filename=new_name,
                id=f"{folder}/{new_number}",
                audio_filename=new_name.replace(".mid", ".wav"),
            )
            out_rows.append(new_row)
        copy += 1
    with open(root / "info.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(out_rows)
    return len(out_rows)


class Stopwatch:
    """Seconds of consecutive stages (`<stage>_s`) and their total (`seconds`)."""

    def __init__(self):
        self.start = self.last = time.perf_counter()
        self.stages = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[f"{stage}_s"] = now - self.last
        self.last = now

    def result(self, **counts) -> dict:
        return {"seconds": self.last - self.start, **self.stages, **counts}


def windows_of(tfrecord: Path, representation: dict):
    """Our windowing of a NoteSequence TFRecord (what the tensorize rule does)."""
    from beatvae.dataset import make_converter, read_note_sequences, windows_from_note_sequences
    from beatvae.settings import window_steps

    return windows_from_note_sequences(
        read_note_sequences(tfrecord), make_converter(representation), window_steps(representation)
    )


def ours_path(root: Path, scratch: Path, representation: dict, workers: int = 1) -> dict:
    """What build_metadata -> convert_tfrecord -> tensorize do, for one subset holding every file."""
    from beatvae.dataset import select_note_sequences
    from beatvae.metadata import build_metadata

    clock = Stopwatch()
    metadata, rejects = build_metadata(root, workers=workers, note_sequences_path=scratch / "all.tfrecord")
    clock.lap("metadata")
    written = select_note_sequences(scratch / "all.tfrecord", metadata["path"], scratch / "ours.tfrecord")
    clock.lap("note_sequences")
    windows = windows_of(scratch / "ours.tfrecord", representation)
    clock.lap("windows")
    return clock.result(files=written, rejects=len(rejects), windows=len(windows), workers=workers)


def before_path(root: Path, scratch: Path, representation: dict) -> dict:
    """The previous design, for before/after: metadata parsed every MIDI, then convert_tfrecord parsed it again."""
    from beatvae.dataset import write_note_sequences
    from beatvae.metadata import build_metadata

    clock = Stopwatch()
    metadata, _ = build_metadata(root)
    clock.lap("metadata")
    written = write_note_sequences(root, metadata["path"], scratch / "before.tfrecord")
    clock.lap("note_sequences")
    windows = windows_of(scratch / "before.tfrecord", representation)
    clock.lap("windows")
    return clock.result(files=written, windows=len(windows))


def magenta_path(root: Path, scratch: Path, representation: dict) -> dict:
    import note_seq
    import tensorflow as tf
    from magenta.scripts import convert_dir_to_note_sequences

    from beatvae.dataset import make_converter

    clock = Stopwatch()
    tfrecord = scratch / "magenta.tfrecord"
    convert_dir_to_note_sequences.convert_directory(str(root), str(tfrecord), recursive=True)
    clock.lap("note_sequences")
    drums = make_converter(representation)  # the same DrumsConverter arguments as ours
    sequences = windows = 0
    for record in tf.compat.v1.io.tf_record_iterator(str(tfrecord)):
        tensors = drums.to_tensors(note_seq.NoteSequence.FromString(record))
        sequences += 1
        windows += len(tensors.inputs)
    clock.lap("windows")
    return clock.result(files=sequences, windows=windows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1150)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    import magenta.scripts.convert_dir_to_note_sequences  # noqa: F401  (warm imports)

    import beatvae.metadata  # noqa: F401
    from beatvae.dataset import make_converter

    representation = load_representation()
    make_converter(representation)
    root = WORK / "gmd-replicated" / "groove"
    files = build_tree(root, args.files)
    log(f"data: {files} MIDI files in {root}")
    workers = CORES
    paths = {"before": before_path, "ours": ours_path, "magenta": magenta_path}
    if workers > 1:  # one process is "ours" already
        paths[f"ours_{workers}_workers"] = functools.partial(ours_path, workers=workers)
    runs = {name: [] for name in paths}
    for repeat in range(args.repeats):
        for name, function in paths.items():  # interleaved: same machine state
            load_before = loadavg()
            with tempfile.TemporaryDirectory(dir=WORK) as scratch:
                result = function(root, Path(scratch), representation)
            result.update(files_per_s=files / result["seconds"], load_before=load_before, load_after=loadavg())
            runs[name].append(result)
            log(
                f"data: run {repeat + 1}/{args.repeats} {name}: {result['seconds']:.1f} s "
                f"({result['files_per_s']:.1f} files/s, {result['windows']} windows)"
            )

    def ratio(ours):
        return summary([o["files_per_s"] / m["files_per_s"] for o, m in zip(runs[ours], runs["magenta"], strict=True)])

    results = {
        name: {
            "files_per_s": summary([r["files_per_s"] for r in rs]),
            "seconds": summary([r["seconds"] for r in rs]),
            "runs": rs,
        }
        for name, rs in runs.items()
    }
    save(
        "b1_data",
        {
            "files": files,
            "repeats": args.repeats,
            "converter": representation,  # the key earlier results were saved with
            "workers": workers,
            "before": results["before"],
            "ours": results["ours"],
            "ours_parallel": results.get(f"ours_{workers}_workers"),
            "magenta": results["magenta"],
            "ratio_before_over_magenta": ratio("before"),
            "ratio_ours_over_magenta": ratio("ours"),
            "ratio_ours_over_before": summary(
                [o["files_per_s"] / b["files_per_s"] for o, b in zip(runs["ours"], runs["before"], strict=True)]
            ),
            "ratio_ours_parallel_over_magenta": ratio(f"ours_{workers}_workers") if workers > 1 else None,
        },
    )


if __name__ == "__main__":
    main()
