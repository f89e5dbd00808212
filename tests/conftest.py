import os
import subprocess
import sys
from pathlib import Path

import pytest

try:  # tests/ as a package or as a plain rootdir-on-sys.path directory
    from .slurm_cluster import SlurmCluster, SlurmUnavailable
except ImportError:
    from slurm_cluster import SlurmCluster, SlurmUnavailable

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
SAMPLE = REPO / "data/gmd-sample/groove-v1.0.0-midionly-sample.zip"
SMOKE_CONFIG = REPO / "tests/config/smoke.yaml"
# The default representation (drums-4bar), spelled out as the workflow passes it (schema defaults filled in).
DRUMS = {
    "converter": "DrumsConverter",
    "steps_per_quarter": 4,
    "quarters_per_bar": 4,
    "slice_bars": 4,
    "roll_input": True,
    "max_bars": None,
    "gap_bars": 1.0,
    "max_tensors_per_notesequence": None,
}
# The default config's groove representation (GrooVAE humanize, hits as controls), schema defaults filled in.
GROOVE = {
    "converter": "GrooveConverter",
    "steps_per_quarter": 4,
    "quarters_per_bar": 4,
    "split_bars": 4,
    "hop_size": 16,
    "humanize": True,
    "hits_as_controls": True,
    "max_tensors_per_notesequence": None,
}
# A variant's `model` section with its schema defaults: the hierarchical decoder over 4 bars.
HIERDEC_MODEL = {
    "encoder": "BidirectionalLstmEncoder",
    "decoder": None,
    "level_lengths": [4, 16],
    "disable_autoregression": False,
}


def training_defaults() -> dict:
    """A variant's `training` section as the workflow's config gets it when it sets none: the schema's
    defaults (config/schema.yaml, their one place), for variants the tests spell out."""
    import yaml

    schema = yaml.safe_load((REPO / "config/schema.yaml").read_text())
    section = schema["$defs"]["variant"]["properties"]["training"]["properties"]
    return {key: entry["default"] for key, entry in section.items()}


def run_snakemake(workdir, *args, configfile=None, snakefile=SNAKEFILE, cores=2, check=False, timeout=900, env=None):
    """Runs this interpreter's Snakemake on the repository's Snakefile in `workdir` (--directory).

    No profile of the user's (SNAKEMAKE_PROFILE) nor the workflow's applies, so the command line
    says everything. The config goes last: --configfile takes several values and would swallow
    targets that follow it. `check`: assert that it succeeded, showing its output otherwise.
    """
    env = {k: v for k, v in (os.environ if env is None else env).items() if k != "SNAKEMAKE_PROFILE"}
    command = [
        sys.executable, "-m", "snakemake", *map(str, args),
        "-s", str(snakefile),
        "--directory", str(workdir),
        "--cores", str(cores),
        "--workflow-profile", "none",
    ]  # fmt: skip
    if configfile is not None:
        command += ["--configfile", str(configfile)]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, output_of(result)
    return result


def write_config_with(base, path, audio: bool, **changes):
    """Writes `base` (a YAML config file) to `path` with audio on or off and dotted keys changed,
    e.g. `**{"generation.temperature": 0.9}`; returns `path`."""
    import yaml

    config = yaml.safe_load(Path(base).read_text())
    config["audio"] = {"enabled": audio}
    for dotted, value in changes.items():
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_drum_midi(path, bars=4, time_signature=(4, 4), drums=True, piano=False, qpm=120.0):
    """A real MIDI file written by pretty_midi: a kick/snare/hi-hat groove on General MIDI channel 10
    (`drums`) and/or a piano part on channel 1 (`piano`), filling `bars` bars of `time_signature`."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    numerator, denominator = time_signature
    midi.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, 0.0))
    beat = 60.0 / qpm * 4 / denominator
    beats = range(bars * numerator)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
        for index in beats:
            for pitch in (36 if index % 2 == 0 else 38, 42):
                kit.notes.append(pretty_midi.Note(100, pitch, index * beat, index * beat + beat / 4))
        midi.instruments.append(kit)
    if piano:
        grand = pretty_midi.Instrument(program=0, name="Grand")
        for index in beats:
            for pitch in (48, 52, 55):  # a C major chord on every beat, in the drum map's pitch range
                grand.notes.append(pretty_midi.Note(70, pitch, index * beat, (index + 1) * beat))
        midi.instruments.append(grand)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))
    return path


def output_of(result):
    """A finished command's stdout and stderr, for assertion messages."""
    return f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@pytest.fixture(scope="session")
def slurm_cluster():
    """A started single-node SLURM cluster (tests/slurm_cluster.py), shared by the session.

    Skips when SLURM cannot be installed or started here; set BEATVAE_REQUIRE_SLURM=1 to make
    that a failure instead (CI machines where the cluster must work).
    """
    cluster = SlurmCluster()
    try:
        cluster.start()
    except SlurmUnavailable as e:
        if os.environ.get("BEATVAE_REQUIRE_SLURM") == "1":
            pytest.fail(f"SLURM test cluster unavailable: {e}")
        pytest.skip(f"SLURM test cluster unavailable: {e}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sample_gmd(tmp_path_factory):
    """{gmd_root, metadata}: the embedded sample unpacked (beatvae.unpack) and described
    (build_metadata) as the data half's first jobs do it, once per session."""
    from beatvae.metadata import build_metadata, find_gmd_root
    from beatvae.unpack import safe_unzip

    folder = tmp_path_factory.mktemp("gmd")
    safe_unzip(SAMPLE, folder / "gmd")
    gmd_root = find_gmd_root(folder / "gmd")
    metadata, _ = build_metadata(gmd_root)
    return {"gmd_root": gmd_root, "metadata": metadata}


@pytest.fixture(scope="session")
def data_half(sample_gmd, tmp_path_factory):
    """The rest of the data half on the sample, as a function of (subset, filters, representation,
    splits): the subset's NoteSequences (`root`/{split}.tfrecord) cut into windows by the real data
    stages, saved as `root`/{split}.npz; returns {root, gmd_root, metadata, windows: {split: path}}."""
    from beatvae.dataset import make_converter, read_note_sequences, windows_from_note_sequences, write_note_sequences
    from beatvae.settings import window_steps
    from beatvae.subsets import filter_subset

    def made(subset, filters, representation, splits=("train", "validation")):
        root = tmp_path_factory.mktemp(subset)
        rows = filter_subset(sample_gmd["metadata"], subset, filters)
        converter = make_converter(representation)
        windows = {}
        for split in splits:
            tfrecord = root / f"{split}.tfrecord"
            write_note_sequences(sample_gmd["gmd_root"], rows.loc[rows["split"] == split, "path"], tfrecord)
            sequences = read_note_sequences(tfrecord)
            windows[split] = root / f"{split}.npz"
            windows_from_note_sequences(sequences, converter, window_steps(representation)).save(windows[split])
        return dict(sample_gmd, root=root, windows=windows)

    return made


# Real rock beats of the embedded sample, for the metrics and realism tests.
ROCK_BEATS = [
    "groove/drummer7/session2/1_rock_120_beat_4-4.mid",  # held out
    "groove/drummer1/session3/14_rock_94_beat_4-4.mid",
    "groove/drummer9/session1/1_rock_100_beat_4-4.mid",
    "groove/drummer9/session1/24_rock_90_beat_4-4.mid",
    "groove/drummer7/session2/14_rock_95_beat_4-4.mid",
]


def bar_windows(archive, member, folder):
    """bool [windows, 64, 9]: the 4-bar windows at every bar of one MIDI file of the sample."""
    import note_seq
    import numpy as np

    from beatvae.metrics import roll_from_note_sequence

    roll, _ = roll_from_note_sequence(note_seq.midi_file_to_note_sequence(archive.extract(member, folder)))
    windows = [roll[start : start + 64] for start in range(0, len(roll) - 63, 16)]
    return np.stack(windows) if windows else np.zeros((0, 64, roll.shape[1]), bool)


@pytest.fixture(scope="session")
def rock_windows(tmp_path_factory):
    """{file: bool [windows, 64, 9]}: 4-bar windows at every bar of five real rock beats."""
    import zipfile

    folder = tmp_path_factory.mktemp("rock")
    with zipfile.ZipFile(SAMPLE) as archive:
        return {member: bar_windows(archive, member, folder) for member in ROCK_BEATS}


@pytest.fixture(scope="session")
def rock_split(rock_windows):
    """(held-out, train) windows: the first file held out (another session's drummer 7), the others for training."""
    import numpy as np

    held_out = rock_windows[ROCK_BEATS[0]]
    train = np.concatenate([rock_windows[member] for member in ROCK_BEATS[1:]])
    assert len(held_out) >= 8 and len(train) >= 20
    return held_out, train


@pytest.fixture(scope="session")
def sample_rock_windows(tmp_path_factory):
    """{file: bool [windows, 64, 9]}: every 4/4 rock beat of the sample at least 4 bars long."""
    import zipfile

    folder = tmp_path_factory.mktemp("all-rock")
    with zipfile.ZipFile(SAMPLE) as archive:
        members = [name for name in archive.namelist() if "_rock" in name and name.endswith("_beat_4-4.mid")]
        windows = {member: bar_windows(archive, member, folder) for member in members}
    return {member: rolls for member, rolls in windows.items() if len(rolls)}
