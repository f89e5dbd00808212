"""NoteSequence TFRecords and the DrumsConverter windows that training reads."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from beatvae import magenta_env  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
from beatvae.settings import NUM_DRUM_CLASSES

COLLECTION_NAME = "groove"


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

    Path(tfrecord_path).parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tfrecord_path).with_name(Path(tfrecord_path).name + ".tmp")
    count = 0
    with tf.io.TFRecordWriter(str(temporary)) as writer:
        for record in records:
            writer.write(record)
            count += 1
    os.replace(temporary, tfrecord_path)
    return count


def write_note_sequences(gmd_root: str | os.PathLike, relative_paths: Iterable[str], tfrecord_path: str | os.PathLike) -> int:
    """Parses MIDI files and writes one serialized NoteSequence per file; returns how many."""
    return write_records((midi_to_note_sequence(gmd_root, relative).SerializeToString() for relative in relative_paths), tfrecord_path)


def select_note_sequences(source_tfrecord: str | os.PathLike, relative_paths: Iterable[str], tfrecord_path: str | os.PathLike) -> int:
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
        raise ValueError(f"{len(missing)} files are not among the NoteSequences in {source_tfrecord}, e.g. {missing[0]}")
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
    """Magenta's DrumsConverter from the config's `converter` section.

    `max_tensors_per_notesequence: null` keeps every window (Magenta samples 5 by default).
    """
    from magenta.models.music_vae import data

    return data.DrumsConverter(
        steps_per_quarter=settings["steps_per_quarter"],
        quarters_per_bar=settings["quarters_per_bar"],
        slice_bars=settings["slice_bars"],
        max_bars=settings.get("max_bars"),
        gap_bars=settings.get("gap_bars", 1.0),
        roll_input=settings.get("roll_input", True),
        max_tensors_per_notesequence=settings.get("max_tensors_per_notesequence"),
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
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(path).with_name(Path(path).name + ".tmp.npz")
        np.savez_compressed(temporary, inputs=self.inputs, labels=self.labels, lengths=self.lengths, sources=self.sources)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Windows":
        with np.load(path, allow_pickle=False) as stored:
            return cls(stored["inputs"], stored["labels"], stored["lengths"], stored["sources"])

    def drum_rolls(self, num_classes: int = NUM_DRUM_CLASSES) -> np.ndarray:
        """bool [N, steps, num_classes]: which drum classes hit at each step."""
        return self.inputs[..., :num_classes].astype(bool)


def windows_from_note_sequences(sequences: Iterable, converter, steps: int) -> Windows:
    """Every converter window of every sequence, de-duplicated across the whole split."""
    seen: set[bytes] = set()
    inputs, labels, lengths, sources = [], [], [], []
    for sequence in sequences:
        tensors = converter.to_tensors(sequence)
        for window_inputs, window_outputs, length in zip(tensors.inputs, tensors.outputs, tensors.lengths):
            window_labels = np.argmax(window_outputs, axis=-1).astype(np.int16)
            key = window_labels.tobytes()
            if key in seen:
                continue
            seen.add(key)
            inputs.append(np.asarray(window_inputs, dtype=bool))
            labels.append(window_labels)
            lengths.append(int(length))
            sources.append(sequence.id)
    if not labels:
        return Windows(
            np.zeros((0, steps, converter.input_depth), bool),
            np.zeros((0, steps), np.int16),
            np.zeros((0,), np.int32),
            np.zeros((0,), str),
        )
    return Windows(np.stack(inputs), np.stack(labels), np.asarray(lengths, np.int32), np.asarray(sources, dtype=str))
