"""NoteSequence TFRecords and the DrumsConverter windows that training reads."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beatvae.files import written_atomically
from beatvae.settings import NUM_DRUM_CLASSES

COLLECTION_NAME = "groove"

log = logging.getLogger(__name__)


def note_sequence_id(filename: str, collection_name: str = COLLECTION_NAME) -> str:
    """The id Magenta's convert_dir_to_note_sequences gives a MIDI file (sha1 of its relative path)."""
    fingerprint = hashlib.sha1(filename.encode("utf-8")).hexdigest()
    return f"/id/midi/{collection_name}/{fingerprint}"


def midi_to_note_sequence(gmd_root: str | os.PathLike, relative_path: str, collection_name: str = COLLECTION_NAME):
    """A NoteSequence with filename, id and collection filled as Magenta's converter fills them."""
    import note_seq

    sequence = note_seq.midi_file_to_note_sequence(str(Path(gmd_root, relative_path)))
    sequence.collection_name = collection_name
    sequence.filename = relative_path
    sequence.id = note_sequence_id(relative_path, collection_name)
    return sequence


def write_records(records: Iterable[bytes], tfrecord_path: str | os.PathLike) -> int:
    """Writes serialized records to a TFRecord file (via a temporary name); returns how many."""
    import tensorflow as tf

    count = 0
    with written_atomically(tfrecord_path) as temporary, tf.io.TFRecordWriter(str(temporary)) as writer:
        for record in records:
            writer.write(record)
            count += 1
    return count


def write_note_sequences(
    gmd_root: str | os.PathLike, relative_paths: Iterable[str], tfrecord_path: str | os.PathLike
) -> int:
    """Parses MIDI files and writes one serialized NoteSequence per file; returns how many."""
    return write_records(
        (midi_to_note_sequence(gmd_root, relative).SerializeToString() for relative in relative_paths), tfrecord_path
    )


def select_note_sequences(
    source_tfrecord: str | os.PathLike, relative_paths: Iterable[str], tfrecord_path: str | os.PathLike
) -> int:
    """Copies the NoteSequences of `relative_paths`, in that order, from an already parsed TFRecord."""
    import note_seq

    wanted = list(relative_paths)
    wanted_set = set(wanted)
    found = {}
    for record in read_records(source_tfrecord):
        filename = note_seq.NoteSequence.FromString(record).filename
        if filename in wanted_set:
            found[filename] = record
    missing = [path for path in wanted if path not in found]
    if missing:
        raise ValueError(
            f"{len(missing)} files are not among the NoteSequences in {source_tfrecord}, e.g. {missing[0]}"
        )
    return write_records((found[path] for path in wanted), tfrecord_path)


def read_records(tfrecord_path: str | os.PathLike):
    """Serialized records of a TFRecord file.

    A plain record iterator, not tf.data's eager iterator: it works whether or not the process
    has already switched to graph mode for Magenta's model code.
    """
    import tensorflow as tf

    yield from tf.compat.v1.io.tf_record_iterator(str(tfrecord_path))


def read_note_sequences(tfrecord_path: str | os.PathLike):
    """NoteSequences of a TFRecord file."""
    import note_seq

    for record in read_records(tfrecord_path):
        yield note_seq.NoteSequence.FromString(record)


def make_drums_converter(settings: Mapping):
    """Magenta's DrumsConverter from the config's `converter` section, every key given.

    The defaults live in one place, config/schema.yaml, which fills them in before any job runs.
    `max_tensors_per_notesequence: null` keeps every window (Magenta samples 5 by default).
    """
    from magenta.models.music_vae import data

    keys = ("steps_per_quarter", "quarters_per_bar", "slice_bars", "max_bars", "gap_bars", "roll_input")
    return data.DrumsConverter(
        **{key: settings[key] for key in keys},
        max_tensors_per_notesequence=settings["max_tensors_per_notesequence"],
    )


@dataclass
class Windows:
    """Converter output for one split, stored compactly.

    `labels` holds the one-hot output's class index per step (512 classes fit int16), so a
    full-GMD split stays small on disk; training expands it with tf.one_hot, no py_function.
    """

    inputs: np.ndarray  # bool [N, steps, input_depth]
    labels: np.ndarray  # int16 [N, steps]
    lengths: np.ndarray  # int32 [N]
    sources: np.ndarray  # str [N]: NoteSequence id of the first window with this content

    def __len__(self) -> int:
        return len(self.labels)

    def save(self, path: str | os.PathLike) -> None:
        # the temporary name ends in .npz: numpy would append it otherwise
        with written_atomically(path, ".tmp.npz") as temporary:
            np.savez_compressed(
                temporary, inputs=self.inputs, labels=self.labels, lengths=self.lengths, sources=self.sources
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> Windows:
        with np.load(path, allow_pickle=False) as stored:
            return cls(stored["inputs"], stored["labels"], stored["lengths"], stored["sources"])

    def drum_rolls(self, num_classes: int = NUM_DRUM_CLASSES) -> np.ndarray:
        """bool [N, steps, num_classes]: which drum classes hit at each step."""
        return self.inputs[..., :num_classes].astype(bool)


def why_no_windows(sequence, settings: Mapping) -> str:
    """Why Magenta's DrumsConverter (configured by `settings`, the config's `converter`) gives a
    NoteSequence no window: it drops such files without a word. Checks the converter's own steps
    in its order: quantizing, the bar length, the drum map, the length, the silences."""
    import note_seq
    from magenta.models.music_vae.data import REDUCED_DRUM_PITCH_CLASSES

    quarters_per_bar, slice_bars = settings["quarters_per_bar"], settings["slice_bars"]
    try:
        quantized = note_seq.quantize_note_sequence(sequence, settings["steps_per_quarter"])
    except Exception as error:  # Magenta splits at these changes; the pieces gave nothing either
        return f"tempo or time-signature changes ({type(error).__name__})"
    signature = quantized.time_signatures[0]
    if signature.numerator * 4 / signature.denominator != quarters_per_bar:
        return f"in {signature.numerator}/{signature.denominator}, not {quarters_per_bar}/4"
    drum_pitches = {pitch for pitches in REDUCED_DRUM_PITCH_CLASSES for pitch in pitches}
    if not any(note.is_drum and note.pitch in drum_pitches for note in quantized.notes):
        return "no drum notes"
    bars = quantized.total_quantized_steps / (settings["steps_per_quarter"] * quarters_per_bar)
    if bars < slice_bars:
        return f"shorter than slice_bars ({slice_bars} bars)"
    return f"no {slice_bars}-bar stretch without a {settings.get('gap_bars', 1.0):g}-bar silence"


@dataclass
class WindowCount:
    """One split's files and windows, and why files gave none, for the log and the report."""

    settings: Mapping  # the config's `converter` section, to explain files without windows
    files: int = 0
    windows: int = 0  # distinct windows kept
    repeated_windows: int = 0  # windows dropped because an earlier one had the same content
    without_windows: dict = field(default_factory=dict)  # reason -> [file names]

    def add(self, sequence, converted: int, kept: int) -> None:
        self.files += 1
        self.windows += kept
        self.repeated_windows += converted - kept
        if converted == 0:
            self.without_windows.setdefault(why_no_windows(sequence, self.settings), []).append(sequence.filename)

    def summary(self) -> dict:
        return {
            "files": self.files,
            "windows": self.windows,
            "repeated_windows": self.repeated_windows,
            "files_without_windows": sum(map(len, self.without_windows.values())),
            "why": {
                reason: len(files)
                for reason, files in sorted(self.without_windows.items(), key=lambda item: -len(item[1]))
            },
        }

    def describe(self, split: str) -> str:
        """e.g. "12 train files, 0 windows (files without a window: 12 in 3/4, not 4/4)"."""
        text = f"{self.files} {split} files, {self.windows} windows"
        reasons = self.summary()["why"]
        if reasons:
            text += " (files without a window: " + "; ".join(f"{n} {reason}" for reason, n in reasons.items()) + ")"
        return text


class NoTrainingWindows(ValueError):
    pass


def check_window_counts(subset: str, counts: Mapping[str, WindowCount]) -> None:
    """Raises NoTrainingWindows, saying why, when the train split gives no window; warns (log) for a
    held-out split without windows, whose metrics will then be missing."""
    for split, count in counts.items():
        if split != "train" and not count.windows:
            log.warning("subset %r: %s: no held-out metrics on %s", subset, count.describe(split), split)
    if not counts["train"].windows:
        raise NoTrainingWindows(f"subset {subset!r}: {counts['train'].describe('train')}: nothing to train on")


def windows_from_note_sequences(
    sequences: Iterable, converter, steps: int, count: WindowCount | None = None
) -> Windows:
    """Every converter window of every sequence, de-duplicated across the whole split.

    With `count`, each file's windows are counted there, and the reason of every file that gave none.
    """
    seen: set[bytes] = set()
    inputs, labels, lengths, sources = [], [], [], []
    for sequence in sequences:
        tensors = converter.to_tensors(sequence)
        kept = 0
        for window_inputs, window_outputs, length in zip(tensors.inputs, tensors.outputs, tensors.lengths, strict=True):
            window_labels = np.argmax(window_outputs, axis=-1).astype(np.int16)
            key = window_labels.tobytes()
            if key in seen:
                continue
            seen.add(key)
            kept += 1
            inputs.append(np.asarray(window_inputs, dtype=bool))
            labels.append(window_labels)
            lengths.append(int(length))
            sources.append(sequence.id)
        if count is not None:
            count.add(sequence, len(tensors.outputs), kept)
    if not labels:
        return Windows(
            np.zeros((0, steps, converter.input_depth), bool),
            np.zeros((0, steps), np.int16),
            np.zeros((0,), np.int32),
            np.zeros((0,), str),
        )
    return Windows(np.stack(inputs), np.stack(labels), np.asarray(lengths, np.int32), np.asarray(sources, dtype=str))
