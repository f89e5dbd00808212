"""Decisions about settings that the workflow (while planning) and the jobs both make.

Standard library only: the Snakefile imports this module at parse time, where nothing but
Snakemake may be installed (a SLURM login node, `snakemake --use-conda -n`). Anything that
needs TensorFlow, Magenta or pandas belongs in the stage modules instead.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

from beatvae.smf import MidiFacts, MidiFileError, read_midi_facts

SPLITS = ("train", "validation", "test")

# Magenta's reduced drum map (drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES), in its order: the
# columns of every drum roll and groove window. A DrumsConverter frame is one of 2**9 classes.
DRUM_CLASS_NAMES: tuple[str, ...] = (
    "kick",
    "snare",
    "closed_hihat",
    "open_hihat",
    "low_tom",
    "mid_tom",
    "high_tom",
    "crash",
    "ride",
)
NUM_DRUM_CLASSES = len(DRUM_CLASS_NAMES)

# The sections of a variant that the trained weights depend on (with its representation and the
# training data); resource requests and descriptions are not among them.
TRAINING_KEYS = ("model", "hparams", "training")


class SettingsError(ValueError):
    """A config value that cannot work; the message names its key."""


# Magenta data converters a representation may name, with the decoder that reads their outputs
# (one-hot drum classes, or per-class hit/velocity/offset values) and the key of the window length.
CONVERTERS = {
    "DrumsConverter": {"decoder": "CategoricalLstmDecoder", "bars_key": "slice_bars"},
    "GrooveConverter": {"decoder": "GrooveLstmDecoder", "bars_key": "split_bars"},
}
# What each of those decoders reports beside the loss, reconstruction loss and KL of every model:
# `metrics`, its own (our name: key of Magenta's metric map), logged while training and validating;
# `free_running`, those also validated with the decoder fed its own samples (a decoder trained with
# scheduled sampling; a groove decoder is trained teacher-forced only). The training job's scalars,
# its validation and the loss report take their columns from here.
DECODERS = {
    "CategoricalLstmDecoder": {"metrics": {"accuracy": "metrics/accuracy"}, "free_running": ("accuracy",)},
    "GrooveLstmDecoder": {
        "metrics": {
            "hits_loss": "metrics/hits_loss",
            "velocities_loss": "metrics/velocities_loss",
            "offsets_loss": "metrics/offsets_loss",
        },
        "free_running": (),
    },
}
# Every decoder's own metrics, in the table's order: the scalars.csv columns after `kl_bits`.
DECODER_METRIC_NAMES = list(dict.fromkeys(name for facts in DECODERS.values() for name in facts["metrics"]))


def validation_columns(decoder: str) -> dict[str, tuple[str, str]]:
    """{scalars.csv column: (decoding mode, metric)} a model with this decoder is validated on;
    `validation_loss` (teacher-forced) picks the best checkpoint."""
    facts = DECODERS[decoder]
    columns = {
        f"validation_{metric}": ("teacher_forced", metric)
        for metric in ("loss", "r_loss", "kl_bits", *facts["metrics"])
    }
    for metric in facts["free_running"]:
        columns[f"validation_free_running_{metric}"] = ("free_running", metric)
    return columns


def decoder_columns(decoder: str) -> list[str]:
    """The scalars.csv columns only a model with this decoder logs: its own metrics, trained and validated."""
    own = DECODERS[decoder]["metrics"]
    return [*own, *(column for column, (_, metric) in validation_columns(decoder).items() if metric in own)]


# The columns of a training run's scalars.csv, in order: every model's losses with each decoder's own
# metrics after `kl_bits`, the schedules, the throughput, then every decoder's validation columns.
SCALAR_COLUMNS = [
    "step",
    "loss",
    "r_loss",
    "kl_loss",
    "kl_bits",
    *DECODER_METRIC_NAMES,
    "beta",
    "sampling_probability",
    "learning_rate",
    "global_norm",
    "examples_per_second",
    *dict.fromkeys(column for decoder in DECODERS for column in validation_columns(decoder)),
]


def is_groove(representation: Mapping) -> bool:
    """True for GrooveConverter representations: hits with velocities and timing offsets."""
    return representation["converter"] == "GrooveConverter"


def window_bars(representation: Mapping) -> int:
    """Length in bars of one converter window."""
    return representation[CONVERTERS[representation["converter"]]["bars_key"]]


def window_steps(representation: Mapping) -> int:
    """Length in steps of one converter window (the model's max_seq_len)."""
    return representation["steps_per_quarter"] * representation["quarters_per_bar"] * window_bars(representation)


def check_variant(name: str, variant: Mapping, representation: Mapping) -> None:
    """Raises SettingsError, naming the key, for a model the representation's windows cannot take."""
    steps = window_steps(representation)
    level_lengths = variant.get("model", {}).get("level_lengths")
    bars_key = CONVERTERS[representation["converter"]]["bars_key"]
    named = f" of representation {variant['representation']!r}" if variant.get("representation") else ""
    if level_lengths and math.prod(level_lengths) != steps:
        raise SettingsError(
            f"variants.{name}.model.level_lengths {list(level_lengths)} multiply to "
            f"{math.prod(level_lengths)}, but a window{named} is {steps} steps "
            f"(steps_per_quarter x quarters_per_bar x {bars_key})"
        )
    decoder = variant.get("model", {}).get("decoder")
    wanted = CONVERTERS[representation["converter"]]["decoder"]
    if decoder is not None and decoder != wanted:
        raise SettingsError(
            f"variants.{name}.model.decoder is {decoder}, but the windows{named} ({representation['converter']}) "
            f"are read by {wanted}"
        )


def model_hparams(variant: Mapping, representation: Mapping) -> dict:
    """The variant's hparams with the window length derived from the representation (said once)."""
    return dict(variant["hparams"], max_seq_len=window_steps(representation))


# A performance in GMD's metadata `id` column: drummerN/sessionM/K, or drummerN/eval_session/K.
GMD_ID = re.compile(r"drummer\d+/(?:session\d+|eval_session)/\d+")
ENDPOINTS_KEY = "generation.interpolation.endpoints"
ENDPOINT_KEYS = ("first", "last")  # the two endpoints, in the order the interpolation runs


def sampling_tag(temperature: float, seed: int) -> str:
    """The folder name of generated outputs at these sampling settings, e.g. temp0.5-seed2018.

    Outputs at other settings then live beside each other instead of overwriting each other;
    `:g` writes 1 and 1.0 alike, so a value's spelling in the config does not matter.
    """
    return f"temp{float(temperature):g}-seed{int(seed)}"


def endpoint_files(endpoints: Mapping, workflow_dir: str | os.PathLike) -> list[Path]:
    """Interpolation endpoint files (`source: files`): paths relative to the workflow folder.

    The one place that decides where they resolve: the workflow checks and hands the jobs these
    paths, whatever the working directory (`--directory`) is.
    """
    return [Path(workflow_dir, str(endpoints[key])) for key in ENDPOINT_KEYS]


# Snakemake reads these as wildcards in any path of a job's inputs or outputs, and cannot escape
# them in the paths that input functions and targets give it (measured with Snakemake 9).
WILDCARD_CHARACTERS = "{}"


def check_drum_midi(
    path: str | os.PathLike,
    where: str,
    written: str,
    readers: Mapping[str, Mapping] | None = None,
    whole_window: bool = False,
) -> MidiFacts:
    """Raises SettingsError, naming `where` (a config key) and the file as `written` in the config,
    for a user's MIDI file that cannot go in as a drum performance: a name Snakemake reads as a
    wildcard, not a MIDI file, no notes on General MIDI channel 10 (the parts it has are named),
    a metre other than each reader's (`readers`: {who: representation}), a tempo change (with
    `whole_window` False: the whole file is quantized), or (`whole_window` True: its earliest window is
    encoded) drums that stop before a reader's window is full. Returns what the file holds.

    Standard library only (smf), so the workflow checks users' files while planning, before any job.
    """
    prefix = f"{where}: {written!r}"
    if any(character in str(path) for character in WILDCARD_CHARACTERS):
        raise SettingsError(
            f"{prefix}: Snakemake reads {{ and }} in a path as a wildcard; rename the file (or its folder) without them"
        )
    try:
        facts = read_midi_facts(path)
    except (OSError, MidiFileError) as error:
        raise SettingsError(f"{prefix} is not a readable MIDI file ({error})") from error
    if not facts.drum_notes:
        parts = "; ".join(part.describe() for part in facts.other_parts()) or "no notes at all"
        raise SettingsError(
            f"{prefix} has no drum notes on General MIDI channel 10, the only channel read as drums ({parts}); "
            "put its drum part on channel 10"
        )
    qpms = sorted(set(facts.qpms()))
    if not whole_window and len(qpms) > 1:
        raise SettingsError(
            f"{prefix} changes tempo ({', '.join(f'{qpm:g}' for qpm in qpms)} qpm); the whole file is put on one "
            "16th-note grid, which needs one tempo: split it where the tempo changes"
        )
    for who, representation in (readers or {}).items():
        quarters = representation["quarters_per_bar"]
        for _, numerator, denominator in facts.time_signatures:
            if numerator * 4 / denominator != quarters:
                raise SettingsError(
                    f"{prefix} is in {numerator}/{denominator}, but {who} reads bars of {quarters} quarter notes "
                    f"({quarters}/4)"
                )
        bars = window_bars(representation)
        reached = facts.last_drum_onset // (facts.ticks_per_quarter * quarters) + 1
        if whole_window and reached < bars:
            bars_key = CONVERTERS[representation["converter"]]["bars_key"]
            raise SettingsError(
                f"{prefix}: its drums stop in bar {reached}, but {who} encodes a {bars}-bar window "
                f"({bars_key}: {bars}); give a file whose drums play into bar {bars}"
            )
    return facts


def check_interpolation(
    generation: Mapping, workflow_dir: str | os.PathLike, interpolating: Mapping[str, Mapping] | None = None
) -> None:
    """Raises SettingsError, naming the key, for interpolation endpoints that cannot work; endpoint files
    (`source: files`) are checked as drum MIDI whose opening window each variant of `interpolating`
    ({variant: its representation}) can encode (check_drum_midi)."""
    endpoints = generation["interpolation"]["endpoints"]
    source = endpoints["source"]
    for key in ENDPOINT_KEYS:
        value = endpoints[key]
        where = f"{ENDPOINTS_KEY}.{key}"
        if source == "samples":
            if not isinstance(value, int) or isinstance(value, bool):
                raise SettingsError(f"{where}: {value!r} is not a sample index (source: samples wants an integer)")
            if not 0 <= value < generation["num_samples"]:
                raise SettingsError(
                    f"{where}: sample {value} does not exist; generation.num_samples is "
                    f"{generation['num_samples']} (indices 0-{generation['num_samples'] - 1})"
                )
        elif source == "dataset" and (not isinstance(value, str) or not GMD_ID.fullmatch(value)):
            raise SettingsError(
                f"{where}: {value!r} is not a GMD id like drummer1/session1/201 (the metadata `id` column)"
            )
    if source == "files":
        for key, path in zip(ENDPOINT_KEYS, endpoint_files(endpoints, workflow_dir), strict=True):
            if not path.is_file():
                raise SettingsError(
                    f"{ENDPOINTS_KEY}.{key}: no MIDI file {endpoints[key]!r} (paths are relative to the "
                    f"workflow folder {workflow_dir})"
                )
            readers = {f"variant {name!r}": representation for name, representation in (interpolating or {}).items()}
            check_drum_midi(path, f"{ENDPOINTS_KEY}.{key}", str(endpoints[key]), readers, whole_window=True)


def gmd_ids(archive: str | os.PathLike) -> set[str]:
    """The performance ids (info.csv's `id` column) of a GMD zip, read without unpacking it."""
    with zipfile.ZipFile(archive) as zipped:
        listing = [name for name in zipped.namelist() if name.rsplit("/", 1)[-1] == "info.csv"]
        if not listing:
            return set()
        with zipped.open(min(listing, key=len)) as handle:
            return {row["id"] for row in csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8"))}


def check_dataset_endpoints(generation: Mapping, archive: str | os.PathLike) -> None:
    """Raises SettingsError, naming the key, for `source: dataset` endpoints the GMD archive lacks.

    Called while planning whenever the archive is already at hand (the vendored default corpus,
    or a finished download), so an unknown id fails before any job instead of an hour into a run.
    """
    endpoints = generation["interpolation"]["endpoints"]
    if endpoints["source"] != "dataset":
        return
    known = gmd_ids(archive)
    for key in ENDPOINT_KEYS:
        if known and endpoints[key] not in known:
            example = min(known)
            raise SettingsError(
                f"{ENDPOINTS_KEY}.{key}: {endpoints[key]!r} is not a performance of the GMD archive "
                f"{archive} (its info.csv ids look like {example!r})"
            )


HUMANIZE_KEY = "humanize"
# results/humanized/<folder>/: one per humanized variant, and this one for users' own files.
HUMANIZED_FILES_FOLDER = "files"


def humanize_file_path(path: str, workflow_dir: str | os.PathLike) -> Path:
    """Where a `humanize.files` entry resolves: relative to the workflow folder, whatever the
    working directory (`--directory`) is. Its output is results/humanized/files/<its stem>.mid."""
    return Path(workflow_dir, str(path))


def humanize_files(humanize: Mapping, workflow_dir: str | os.PathLike) -> dict[str, Path]:
    """{output stem: path} of the users' MIDI files to humanize (`humanize.files`)."""
    return {(found := humanize_file_path(path, workflow_dir)).stem: found for path in humanize.get("files", [])}


def check_humanize(
    humanize: Mapping,
    variants: Mapping[str, Mapping],
    representations: Mapping[str, Mapping],
    workflow_dir: str | os.PathLike,
) -> None:
    """Raises SettingsError, naming the key, for a humanize section that cannot work: a model that
    is not a humanizing groove variant, variants to humanize that do not generate beats, files that
    are missing or would write the same output."""
    model, listed, files = humanize.get("model"), humanize.get("variants", []), humanize.get("files", [])
    if model is None:
        for key, value in (("variants", listed), ("files", files)):
            if value:
                raise SettingsError(
                    f"{HUMANIZE_KEY}.{key} lists {list(value)}, but {HUMANIZE_KEY}.model is null: name the "
                    "groove variant that humanizes"
                )
        return
    grooves = [name for name, variant in variants.items() if is_groove(representations[variant["representation"]])]
    humanizers = [name for name in grooves if representations[variants[name]["representation"]].get("humanize", False)]
    if model not in humanizers:
        why = (
            "is not a declared variant"
            if model not in variants
            else "is not a GrooveConverter variant"
            if model not in grooves
            else "has a representation without humanize: true (its encoder sees velocities and offsets)"
        )
        raise SettingsError(f"{HUMANIZE_KEY}.model: {model!r} {why}; humanizing variants: {humanizers}")
    beats = [name for name in variants if name not in grooves]
    for index, name in enumerate(listed):
        if name not in beats:
            raise SettingsError(
                f"{HUMANIZE_KEY}.variants[{index}]: {name!r} is not a variant that generates beats "
                f"(DrumsConverter variants: {beats})"
            )
        if name == HUMANIZED_FILES_FOLDER:
            raise SettingsError(
                f"{HUMANIZE_KEY}.variants[{index}]: a variant named {name!r} would share "
                f"results/humanized/{HUMANIZED_FILES_FOLDER}/ with {HUMANIZE_KEY}.files; rename the variant"
            )
    check_humanize_files(files, model, representations[variants[model]["representation"]], workflow_dir)


def check_humanize_files(
    files: list, model: str, model_representation: Mapping, workflow_dir: str | os.PathLike
) -> None:
    """Raises SettingsError, naming the entry, for `humanize.files` that are missing, no drum MIDI the
    humanizing variant `model` can read, or would write the same output."""
    seen: dict[str, str] = {}
    for index, path in enumerate(files):
        resolved = humanize_file_path(path, workflow_dir)
        where = f"{HUMANIZE_KEY}.files[{index}]"
        if not resolved.is_file():
            raise SettingsError(
                f"{where}: no MIDI file {path!r} (paths are relative to the workflow folder {workflow_dir})"
            )
        if resolved.suffix.lower() not in (".mid", ".midi"):
            raise SettingsError(f"{where}: {path!r} is not a MIDI file (.mid or .midi)")
        check_drum_midi(resolved, where, str(path), {f"{HUMANIZE_KEY}.model {model!r}": model_representation})
        stem = resolved.stem
        if stem in seen:
            raise SettingsError(
                f"{where}: {path!r} and {seen[stem]!r} would both be written to "
                f"results/humanized/{HUMANIZED_FILES_FOLDER}/{stem}.mid; rename one"
            )
        seen[stem] = str(path)


# ---------------------------------------------------------------- training checkpoints and init_from
#
# What the training job decides about a variant's checkpoint folder and its `init_from` source, said
# once here so that planning (standard library only) can make the same decisions before any job.

INIT_FROM_KEY = "training.init_from"
CHECKPOINT_STATE_FILE = "checkpoint"  # TensorFlow's checkpoint state file: the newest checkpoint's name
FINGERPRINT_FILE = "fingerprint.json"  # the settings a checkpoint folder's weights were trained with
TRAINING_SUMMARY_FILE = "training.json"  # an exported model's summary (its fingerprint among others)
SCALARS_FILE = "scalars.csv"  # the logged training and validation scalars, in both folders
# A model exported for the browser (results/browser/<variant>, beatvae.browser_model), as @magenta/music
# loads it: its MusicVAESpec, the TensorFlow.js weights manifest and the one weight shard it names.
BROWSER_CONFIG_FILE, BROWSER_MANIFEST_FILE, BROWSER_WEIGHTS_FILE = "config.json", "weights_manifest.json", "weights.bin"
# Where a folder's state file records the windows file it was trained on (its sha256), so planning can
# tell, without reading the windows, that the training data have not changed.
WINDOWS_FILE_KEY = "training_windows_file_sha256"


def settings_digest(value) -> str:
    """A short digest of a JSON-able setting; equal settings give equal digests, whatever the key order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


# Representation settings that change only the training split's windows (the fingerprint holds
# those windows' digest), not how Magenta's converter makes windows.
TRAINING_WINDOW_KEYS = ("drop_training_ghost_notes_below",)


def training_windows_description(representation: Mapping) -> str:
    """What a representation's training windows leave out of the drummers' playing, in words for
    the page ("" when they keep all of it)."""
    below = representation.get("drop_training_ghost_notes_below") or 0
    if not below:
        return ""
    return (
        f"trained without the drummers' ghost notes (snare hits below velocity {below}), "
        "judged against held-out beats as played"
    )


def settings_parts(variant: Mapping, representation: Mapping) -> dict:
    """The config-level parts of a checkpoint folder's fingerprint: a digest of each setting its
    weights depend on (the job adds the training windows' and an init_from source's)."""
    return {
        "model": settings_digest(variant["model"]),
        "hparams": settings_digest(variant["hparams"]),
        "seed": settings_digest(variant["training"]["seed"]),
        # Named `converter` (the representation's name before the rename) because existing checkpoint
        # folders' fingerprints hash this name: renaming it would retrain every one of them. What only
        # changes the training windows is left out (their own digest is part of the fingerprint), so
        # adding such a setting to the schema retrains nothing.
        "converter": settings_digest({k: v for k, v in representation.items() if k not in TRAINING_WINDOW_KEYS}),
    }


def browser_export_problems(variant: Mapping, representation: Mapping) -> list[str]:
    """Why the page's beat explorer (@magenta/music's MusicVAE, beatvae.browser_model) cannot run a
    variant's model; empty when it can. Planning leaves such variants without an explorer."""
    structure, hparams = variant.get("model", {}), variant.get("hparams", {})
    problems = []
    if (
        structure.get("encoder", "BidirectionalLstmEncoder") != "BidirectionalLstmEncoder"
        or len(hparams.get("enc_rnn_size", [0])) != 1
    ):
        problems.append("magenta.js runs a single-layer BidirectionalLstmEncoder only")
    if len(structure.get("level_lengths") or []) > 2:
        problems.append("the page runs one conductor level only (level_lengths of two numbers)")
    if structure.get("decoder"):
        problems.append(f"the decoder is the representation's own, not {structure['decoder']}")
    if hparams.get("residual_encoder") or hparams.get("residual_decoder"):
        problems.append("magenta.js has no residual LSTM layers")
    if not is_groove(representation) and not representation.get("roll_input", True):
        problems.append("magenta.js's DrumsConverter reads a drum roll: roll_input must be true")
    return problems


def file_sha256(path: str | os.PathLike) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def newest_checkpoint_name(folder: str | os.PathLike) -> str | None:
    """The newest checkpoint's name in a folder's TensorFlow state file (`model.ckpt-1200`), if any."""
    state = Path(folder, CHECKPOINT_STATE_FILE)
    if not state.is_file():
        return None
    match = re.search(r'^model_checkpoint_path: "([^"]+)"', state.read_text(), re.MULTILINE)
    return Path(match.group(1)).name if match else None


def checkpoint_name_step(name: str | None) -> int:
    """The global step in a checkpoint name or path (`.../model.ckpt-1200` -> 1200; none -> 0)."""
    match = re.search(r"-(\d+)$", str(name or ""))
    return int(match.group(1)) if match else 0


def init_source_id(model_dir: str | os.PathLike) -> str | None:
    """What a fine-tuned variant's weights depend on of its `init_from` model: that model's
    fingerprint and exported checkpoint (a source trained longer is a new start too). None when
    the folder holds no exported model."""
    summary = Path(model_dir, TRAINING_SUMMARY_FILE)
    name = newest_checkpoint_name(model_dir)
    if not summary.is_file() or name is None:
        return None
    return f"{json.loads(summary.read_text())['fingerprint']}/{name}"


def num_steps_problem(name: str, num_steps: int, checkpoint: str | None) -> str | None:
    """Why `num_steps` cannot work with a folder whose newest checkpoint is `checkpoint` (a path),
    or None. Never export a model trained longer than asked: fewer steps than stored are an error."""
    trained = checkpoint_name_step(checkpoint)
    if num_steps >= trained:
        return None
    return (
        f"variants.{name}.training.num_steps is {num_steps}, but {Path(checkpoint).parent} already holds a "
        f"checkpoint at step {trained}: raise num_steps to at least {trained}, or delete that folder to train "
        f"from scratch"
    )


def check_trained_steps(
    name: str,
    variant: Mapping,
    representation: Mapping,
    checkpoint_dir: str | os.PathLike,
    windows: str | os.PathLike,
    init_source: str | os.PathLike | None,
) -> None:
    """While planning: SettingsError when the training job would refuse `num_steps` (below the step of
    the checkpoints it would resume). Only a folder it would resume counts: one whose stored settings
    match these, trained on the windows file now on disk (and from the same init_from model); any
    change starts over, and then every num_steps works.

    `windows` is the variant's training windows file, `init_source` its init_from model folder.
    """
    checkpoint_dir = Path(checkpoint_dir)
    try:
        name_on_disk = newest_checkpoint_name(checkpoint_dir)
        stored = json.loads((checkpoint_dir / FINGERPRINT_FILE).read_text())
        parts = stored.get("parts") or {}
        same_settings = all(parts.get(key) == value for key, value in settings_parts(variant, representation).items())
        same_source = parts.get("init_from") == (init_source_id(init_source) if init_source else None)
        resumed = same_settings and same_source and stored.get(WINDOWS_FILE_KEY) == file_sha256(windows)
    except (OSError, ValueError, KeyError):
        # Nothing trained yet, or a folder a running job is just setting aside or writing: the job decides.
        return
    if resumed and name_on_disk:
        problem = num_steps_problem(name, variant["training"]["num_steps"], str(checkpoint_dir / name_on_disk))
        if problem:
            raise SettingsError(problem)


def check_init_from_cycles(variants: Mapping[str, Mapping]) -> None:
    """Raises SettingsError, naming the key and the variants, where `training.init_from` goes round
    in a cycle (a -> b -> a): each variant would need the other trained first."""
    for start in variants:
        chain = [start]
        while (source := variants[chain[-1]]["training"].get("init_from")) is not None and source in variants:
            if source in chain:
                cycle = [*chain[chain.index(source) :], source]
                raise SettingsError(
                    f"variants.{cycle[0]}.{INIT_FROM_KEY}: the variants {' -> '.join(cycle)} start from each other's "
                    f"weights in a cycle, so none can be trained first; remove {INIT_FROM_KEY} from one of them"
                )
            chain.append(source)


# The settings that decide the shapes of a model's weights (checked by building the graphs: the
# level_lengths values and GrooveConverter's `humanize` do not change them, their number and
# `hits_as_controls` do). A model can start from another's weights only where all of these agree.
def model_shape(variant: Mapping, representation: Mapping) -> dict:
    """{config key (relative to the variant, `representation.*` for its representation's): value} of
    every setting that decides the shape of the variant's weights."""
    model, hparams = variant["model"], variant["hparams"]
    levels = model.get("level_lengths")
    shape = {
        "model.encoder": model.get("encoder"),
        "model.decoder": model.get("decoder") or CONVERTERS[representation["converter"]]["decoder"],
        "model.level_lengths (number of levels)": len(levels) if levels else None,
        "model.disable_autoregression": bool(model.get("disable_autoregression")) if levels else None,
        **{f"hparams.{key}": hparams.get(key) for key in ("z_size", "enc_rnn_size", "dec_rnn_size")},
        **{f"hparams.{key}": bool(hparams.get(key)) for key in ("residual_encoder", "residual_decoder", "use_cudnn")},
        "representation.converter": representation["converter"],
    }
    if representation["converter"] == "DrumsConverter":
        shape["representation.roll_input"] = representation.get("roll_input", True)
    else:
        shape["representation.hits_as_controls"] = representation.get("hits_as_controls", False)
    return shape


def model_shape_problem(
    name: str,
    variant: Mapping,
    representation: Mapping,
    source: str,
    source_variant: Mapping,
    source_representation: Mapping,
) -> str | None:
    """Why variant `name` cannot start from the weights of variant `source` (another model shape), or None."""
    ours, theirs = model_shape(variant, representation), model_shape(source_variant, source_representation)
    differing = [
        f"{key} ({source}: {theirs.get(key)}, {name}: {ours[key]})" for key in ours if ours[key] != theirs.get(key)
    ]
    if not differing:
        return None
    return (
        f"variants.{name}.{INIT_FROM_KEY}: {source}'s model has another shape than {name}'s, its weights cannot "
        f"fit: {', '.join(differing)}; give both the same, or remove {INIT_FROM_KEY}"
    )


def check_init_from_shapes(variants: Mapping[str, Mapping], representations: Mapping[str, Mapping]) -> None:
    """Raises SettingsError naming both variants and the differing keys where a variant's `init_from`
    source has another model shape."""
    for name, variant in variants.items():
        source = variant["training"].get("init_from")
        if source is None or source not in variants:
            continue
        problem = model_shape_problem(
            name,
            variant,
            representations[variant["representation"]],
            source,
            variants[source],
            representations[variants[source]["representation"]],
        )
        if problem:
            raise SettingsError(problem)
