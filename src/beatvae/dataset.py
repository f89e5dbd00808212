"""NoteSequence TFRecords and the converter windows (drum classes, or grooves) that training reads."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beatvae.files import written_atomically
from beatvae.held_out import describe_split
from beatvae.midi import sequence_qpm
from beatvae.settings import CONVERTERS, NUM_DRUM_CLASSES, is_groove, window_bars

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


def without_ghost_notes(sequence, below: int):
    """A copy of `sequence` without its snare-class hits softer than velocity `below` (ghost notes):
    they make a bar fail the clean-backbeat test and count towards fills (beatvae.realism). 0: as is."""
    if not below:
        return sequence
    from note_seq import drums_encoder_decoder

    snare = set(drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES[1])
    result = type(sequence)()
    result.CopyFrom(sequence)
    del result.notes[:]
    result.notes.extend(note for note in sequence.notes if not (note.pitch in snare and note.velocity < below))
    return result


def split_sequences(tfrecord_path: str | os.PathLike, split: str, representation: Mapping):
    """The NoteSequences a split's windows are made from: the training split's without its ghost
    notes where `drop_training_ghost_notes_below` says so; held-out splits always as played."""
    sequences = read_note_sequences(tfrecord_path)
    below = representation.get("drop_training_ghost_notes_below", 0) if split == "train" else 0
    return (without_ghost_notes(sequence, below) for sequence in sequences) if below else sequences


DRUMS_CONVERTER_KEYS = ("steps_per_quarter", "quarters_per_bar", "slice_bars", "max_bars", "gap_bars", "roll_input")
GROOVE_CONVERTER_KEYS = (
    "steps_per_quarter",
    "quarters_per_bar",
    "split_bars",
    "hop_size",
    "humanize",
    "hits_as_controls",
)


def make_converter(representation: Mapping):
    """Magenta's data converter for a representation of the config, every key given.

    The defaults live in one place, config/schema.yaml, which fills them in before any job runs.
    `max_tensors_per_notesequence: null` keeps every window (Magenta samples a few by default).
    A GrooveConverter reads GMD's Roland kit pitches and writes the reduced drum map at inference,
    as Magenta's groovae configs do, so the beats of a DrumsConverter model map onto its classes.
    """
    from magenta.models.music_vae import data

    if is_groove(representation):
        return data.GrooveConverter(
            **{key: representation[key] for key in GROOVE_CONVERTER_KEYS},
            max_tensors_per_notesequence=representation["max_tensors_per_notesequence"],
            pitch_classes=data.ROLAND_DRUM_PITCH_CLASSES,
            inference_pitch_classes=data.REDUCED_DRUM_PITCH_CLASSES,
        )
    return data.DrumsConverter(
        **{key: representation[key] for key in DRUMS_CONVERTER_KEYS},
        max_tensors_per_notesequence=representation["max_tensors_per_notesequence"],
    )


@dataclass
class Windows:
    """Converter output for one split, stored compactly.

    Drum classes (DrumsConverter): `labels` holds the one-hot output's class index per step
    (512 classes fit int16), so a full-GMD split stays small on disk; training expands it with
    tf.one_hot. Grooves (GrooveConverter): `labels` holds the output values themselves (hits,
    velocities, offsets per drum class; float16 keeps a velocity step of 1/127), `controls` the
    hits when the converter passes them as controls.
    """

    inputs: np.ndarray  # [N, steps, input_depth]: bool (drum classes) or float16 (grooves)
    labels: np.ndarray  # int16 [N, steps] class indices, or float16 [N, steps, output_depth] values
    lengths: np.ndarray  # int32 [N]
    sources: np.ndarray  # str [N]: NoteSequence id of the first window with this content
    qpm: np.ndarray | None = None  # float32 [N]: tempo of the performance (a groove's offsets in ms)
    controls: np.ndarray | None = None  # bool [N, steps, control_depth], or None

    def __len__(self) -> int:
        return len(self.labels)

    def model_arrays(self) -> list[np.ndarray]:
        """What the model reads, in order: inputs, labels, lengths, and the controls if any."""
        arrays = [self.inputs, self.labels, self.lengths]
        return arrays if self.controls is None else [*arrays, self.controls]

    @property
    def categorical(self) -> bool:
        """True when `labels` are class indices of one-hot outputs (drum classes)."""
        return self.labels.ndim == 2

    def save(self, path: str | os.PathLike) -> None:
        optional = {name: value for name in ("qpm", "controls") if (value := getattr(self, name)) is not None}
        # the temporary name ends in .npz: numpy would append it otherwise
        with written_atomically(path, ".tmp.npz") as temporary:
            np.savez_compressed(
                temporary,
                inputs=self.inputs,
                labels=self.labels,
                lengths=self.lengths,
                sources=self.sources,
                **optional,
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> Windows:
        with np.load(path, allow_pickle=False) as stored:
            optional = {name: stored[name] for name in ("qpm", "controls") if name in stored.files}
            return cls(stored["inputs"], stored["labels"], stored["lengths"], stored["sources"], **optional)

    def drum_rolls(self, num_classes: int = NUM_DRUM_CLASSES) -> np.ndarray:
        """bool [N, steps, num_classes]: which drum classes hit at each step (inputs start with the hits)."""
        return self.inputs[..., :num_classes].astype(bool)


def why_no_windows(sequence, representation: Mapping) -> str:
    """Why Magenta's converter (made from `representation`, an entry of the config's `representations`) gives a
    NoteSequence no window: it drops such files without a word. Checks the converter's own steps
    in its order: quantizing, the bar length, the drum map, the length, the silences (drum classes only)."""
    import note_seq
    from magenta.models.music_vae.data import REDUCED_DRUM_PITCH_CLASSES, ROLAND_DRUM_PITCH_CLASSES

    quarters_per_bar, bars = representation["quarters_per_bar"], window_bars(representation)
    bars_key = CONVERTERS[representation["converter"]]["bars_key"]
    try:
        quantized = note_seq.quantize_note_sequence(sequence, representation["steps_per_quarter"])
    except Exception as error:  # Magenta splits at these changes; the pieces gave nothing either
        return f"tempo or time-signature changes ({type(error).__name__})"
    if quantized.time_signatures:
        signature = quantized.time_signatures[0]
        if signature.numerator * 4 / signature.denominator != quarters_per_bar:
            return f"in {signature.numerator}/{signature.denominator}, not {quarters_per_bar}/4"
    pitch_classes = ROLAND_DRUM_PITCH_CLASSES if is_groove(representation) else REDUCED_DRUM_PITCH_CLASSES
    drum_pitches = {pitch for pitches in pitch_classes for pitch in pitches}
    if not any(note.is_drum and note.pitch in drum_pitches for note in quantized.notes):
        return "no drum notes"
    steps_per_bar = representation["steps_per_quarter"] * quarters_per_bar
    if is_groove(representation):
        # GrooveConverter pads the performance to whole bars after its last onset.
        last_onset = max(note.quantized_start_step for note in quantized.notes)
        return f"shorter than {bars_key} ({bars} bars)" if last_onset // steps_per_bar + 1 < bars else "no window"
    if quantized.total_quantized_steps / steps_per_bar < bars:
        return f"shorter than {bars_key} ({bars} bars)"
    return f"no {bars}-bar stretch without a {representation.get('gap_bars', 1.0):g}-bar silence"


@dataclass
class WindowCount:
    """One split's files and windows, and why files gave none, for the log and the report."""

    representation: Mapping  # the windows' representation, to explain files without windows
    files: int = 0
    windows: int = 0  # distinct windows kept
    repeated_windows: int = 0  # windows dropped because an earlier one had the same content
    without_windows: dict = field(default_factory=dict)  # reason -> [file names]

    def add(self, sequence, converted: int, kept: int) -> None:
        self.files += 1
        self.windows += kept
        self.repeated_windows += converted - kept
        if converted == 0:
            self.without_windows.setdefault(why_no_windows(sequence, self.representation), []).append(sequence.filename)

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
        return describe_split(split, self.summary())


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
    categorical = np.dtype(converter.output_dtype) == np.bool_
    seen: set[bytes] = set()
    inputs, labels, lengths, sources, qpm, controls = [], [], [], [], [], []
    for sequence in sequences:
        tensors = converter.to_tensors(sequence)
        window_controls = tensors.controls if converter.control_depth else [None] * len(tensors.outputs)
        kept = 0
        for window_inputs, window_outputs, window_control, length in zip(
            tensors.inputs, tensors.outputs, window_controls, tensors.lengths, strict=True
        ):
            if categorical:
                window_labels = np.argmax(window_outputs, axis=-1).astype(np.int16)
            else:
                window_labels = np.asarray(window_outputs, np.float16)
            key = window_labels.tobytes()
            if key in seen:
                continue
            seen.add(key)
            kept += 1
            inputs.append(np.asarray(window_inputs, dtype=bool if categorical else np.float16))
            labels.append(window_labels)
            lengths.append(int(length))
            sources.append(sequence.id)
            qpm.append(sequence_qpm(sequence))
            if window_control is not None:
                controls.append(np.asarray(window_control, bool))
        if count is not None:
            count.add(sequence, len(tensors.outputs), kept)
    if not labels:
        value_type = bool if categorical else np.float16
        return Windows(
            np.zeros((0, steps, converter.input_depth), value_type),
            np.zeros((0, steps), np.int16) if categorical else np.zeros((0, steps, converter.output_depth), value_type),
            np.zeros((0,), np.int32),
            np.zeros((0,), str),
            np.zeros((0,), np.float32),
            np.zeros((0, steps, converter.control_depth), bool) if converter.control_depth else None,
        )
    return Windows(
        np.stack(inputs),
        np.stack(labels),
        np.asarray(lengths, np.int32),
        np.asarray(sources, dtype=str),
        np.asarray(qpm, np.float32),
        np.stack(controls) if controls else None,
    )
