"""Training, resuming, sampling and interpolation with Magenta's MusicVAE on the real GMD sample."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from beatvae.dataset import make_drums_converter, read_note_sequences, windows_from_note_sequences, write_note_sequences
from beatvae.settings import window_steps
from beatvae.metadata import build_metadata, find_gmd_root
from beatvae.subsets import filter_subset
from beatvae.unpack import safe_unzip

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ZIP = REPO / "data/gmd-sample/groove-v1.0.0-midionly-sample.zip"
CONVERTER = {"steps_per_quarter": 4, "quarters_per_bar": 4, "slice_bars": 4, "roll_input": True, "max_bars": None, "gap_bars": 1.0, "max_tensors_per_notesequence": None}


def tiny_variant(num_steps, seed=1, checkpoint_every=50):
    """A hierdec MusicVAE small enough to learn something on 2 CPU cores in under a minute."""
    return {
        "model": {"encoder": "BidirectionalLstmEncoder", "decoder": "CategoricalLstmDecoder", "level_lengths": [4, 16], "disable_autoregression": False},
        "hparams": {
            "batch_size": 32, "z_size": 32, "enc_rnn_size": [64], "dec_rnn_size": [64, 64],
            "free_bits": 48, "max_beta": 0.2, "beta_rate": 0.0, "sampling_schedule": "inverse_sigmoid", "sampling_rate": 1000,
            "learning_rate": 0.003, "decay_rate": 0.999, "min_learning_rate": 0.0001, "dropout_keep_prob": 1.0,
            "grad_clip": 1.0, "clip_mode": "global_norm", "grad_norm_clip_to_zero": 10000,
            "residual_encoder": False, "residual_decoder": False, "use_cudnn": False,
        },
        "training": {"num_steps": num_steps, "seed": seed, "checkpoint_every_steps": checkpoint_every, "checkpoints_to_keep": 3, "log_every_steps": 10},
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Rock-beat windows of the embedded sample, through the real data stages."""
    root = tmp_path_factory.mktemp("gmd")
    safe_unzip(SAMPLE_ZIP, root / "gmd")
    gmd_root = find_gmd_root(root / "gmd")
    metadata, _ = build_metadata(gmd_root)
    subset = filter_subset(metadata, "rock", {"style": "rock", "beat_type": "beat", "time_signature": "4-4"})
    converter = make_drums_converter(CONVERTER)
    paths = {}
    for split in ("train", "validation"):
        tfrecord = root / f"{split}.tfrecord"
        write_note_sequences(gmd_root, subset.loc[subset["split"] == split, "path"], tfrecord)
        windows = windows_from_note_sequences(read_note_sequences(tfrecord), converter, window_steps(CONVERTER))
        paths[split] = root / f"{split}.npz"
        windows.save(paths[split])
    return {"root": root, "gmd_root": gmd_root, "metadata": metadata, "windows": paths}


def run_training(variant, windows, checkpoint_dir, model_dir, **popen):
    """Trains in a child process, as the Snakemake job does (and so it can be killed)."""
    script = textwrap.dedent(
        f"""
        import json, logging, sys
        logging.basicConfig(level=logging.INFO)
        from beatvae.training import train_variant
        summary = train_variant(json.loads(sys.argv[1]), json.loads(sys.argv[2]), {str(windows)!r}, {str(checkpoint_dir)!r}, {str(model_dir)!r}, threads=2)
        print("SUMMARY", json.dumps(summary))
        """
    )
    return subprocess.Popen([sys.executable, "-c", script, json.dumps(variant), json.dumps(CONVERTER)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def finished_summary(process, timeout=600):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return json.loads(next(line for line in output.splitlines() if line.startswith("SUMMARY"))[len("SUMMARY "):])


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    variant = tiny_variant(num_steps=200)
    summary = finished_summary(run_training(variant, data["windows"]["train"], root / "checkpoints", root / "model"))
    return {"variant": variant, "model_dir": root / "model", "summary": summary}


def test_training_lowers_the_loss_and_exports_the_final_checkpoint(trained):
    scalars = pd.read_csv(trained["model_dir"] / "scalars.csv")
    assert scalars["step"].tolist() == list(range(10, 201, 10))
    first, last = scalars["r_loss"].iloc[:3].mean(), scalars["r_loss"].iloc[-3:].mean()
    assert last < 0.9 * first, (first, last)
    assert scalars["accuracy"].iloc[-3:].mean() > scalars["accuracy"].iloc[:3].mean()
    assert (trained["model_dir"] / "model.ckpt-200.index").exists()
    assert trained["summary"]["steps"] == 200 and trained["summary"]["resumed_from_step"] == 0


def test_checkpoint_reloads_in_a_fresh_process(trained, data):
    script = textwrap.dedent(
        f"""
        import numpy as np
        from beatvae.dataset import Windows
        from beatvae.generation import load_trained_model, trained_settings
        settings, converter = trained_settings({str(trained['model_dir'])!r})
        model = load_trained_model(settings, converter, {str(trained['model_dir'])!r}, batch_size=4, seed=0)
        windows = Windows.load({str(data['windows']['validation'])!r})
        z, mu, sigma = model.encode_tensors(list(windows.inputs[:4]), list(windows.lengths[:4]))
        print("MU", mu.shape, float(np.abs(mu).sum()))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    shape_and_norm = next(line for line in result.stdout.splitlines() if line.startswith("MU"))
    assert "(4, 32)" in shape_and_norm and float(shape_and_norm.split()[-1]) > 0


def wait_for_checkpoint(checkpoint_dir, min_step, process, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, process.stdout.read()[-3000:]
        steps = [int(p.name.split("-")[1].split(".")[0]) for p in Path(checkpoint_dir).glob("model.ckpt-*.index")]
        if steps and max(steps) >= min_step:
            return max(steps)
        time.sleep(0.5)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.parametrize("kill_signal", [signal.SIGKILL, signal.SIGTERM])
def test_killed_training_resumes_from_its_last_checkpoint(data, tmp_path, kill_signal):
    checkpoints, model_dir = tmp_path / "checkpoints", tmp_path / "model"
    process = run_training(tiny_variant(num_steps=100_000, checkpoint_every=20), data["windows"]["train"], checkpoints, model_dir)
    saved = wait_for_checkpoint(checkpoints, 20, process)
    process.send_signal(kill_signal)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert not model_dir.exists(), "the declared output must not appear for an unfinished run"
    if kill_signal == signal.SIGTERM:
        assert "checkpoint saved" in output
    last_saved = max(int(p.name.split("-")[1].split(".")[0]) for p in checkpoints.glob("model.ckpt-*.index"))
    assert last_saved >= saved

    summary = finished_summary(run_training(tiny_variant(num_steps=last_saved + 20, checkpoint_every=20), data["windows"]["train"], checkpoints, model_dir))
    assert summary["resumed_from_step"] == last_saved
    assert summary["steps"] == last_saved + 20 and summary["steps_this_run"] == 20
    steps = pd.read_csv(model_dir / "scalars.csv")["step"]
    assert steps.is_monotonic_increasing and steps.is_unique and steps.iloc[-1] == last_saved + 20


def test_changed_settings_start_over_instead_of_resuming(data, trained, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    finished_summary(run_training(tiny_variant(num_steps=20, checkpoint_every=10), data["windows"]["train"], checkpoints, tmp_path / "a"))
    other_seed = finished_summary(run_training(tiny_variant(num_steps=30, seed=2, checkpoint_every=10), data["windows"]["train"], checkpoints, tmp_path / "b"))
    assert other_seed["resumed_from_step"] == 0 and other_seed["steps"] == 30


GENERATION = {"num_samples": 8, "temperature": 0.5, "seed": 11, "qpm": 100}


def read_midi(path):
    import note_seq

    return note_seq.midi_file_to_note_sequence(str(path))


def test_samples_are_reproducible_four_bar_general_midi_drums(trained, tmp_path):
    import mido

    from beatvae.generation import generate_samples

    runs = {}
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        paths = [tmp_path / name / f"sample_{i}.mid" for i in range(8)]
        generate_samples(trained["summary"]["variant"], CONVERTER, dict(GENERATION, seed=seed), trained["model_dir"], paths, tmp_path / f"{name}.npy")
        runs[name] = [p.read_bytes() for p in paths]
    assert runs["a"] == runs["b"], "same seed must give the same MIDI files"
    assert runs["a"] != runs["c"]

    bar_seconds = 4 * 60 / GENERATION["qpm"]
    for path in sorted((tmp_path / "a").glob("*.mid")):
        sequence = read_midi(path)
        assert sequence.notes, f"{path.name} is silent"
        assert all(note.is_drum for note in sequence.notes)
        assert max(note.start_time for note in sequence.notes) < 4 * bar_seconds
        assert sequence.tempos[0].qpm == pytest.approx(GENERATION["qpm"])
        channels = {m.channel for m in mido.MidiFile(path).tracks[-1] if m.type == "note_on"} | {
            m.channel for t in mido.MidiFile(path).tracks for m in t if m.type == "note_on"
        }
        assert channels == {9}, "General MIDI drums play on channel 10"


def opening_windows(data, paths):
    from beatvae.dataset import Windows, midi_to_note_sequence
    from beatvae.generation import opening_window

    tensors = [opening_window(midi_to_note_sequence(data["gmd_root"], path), CONVERTER) for path in paths]
    return Windows(
        np.stack([np.asarray(t.inputs[0], bool) for t in tensors]),
        np.stack([np.argmax(t.outputs[0], axis=-1).astype(np.int16) for t in tensors]),
        np.asarray([t.lengths[0] for t in tensors], np.int32),
        np.asarray(list(paths)),
    )


@pytest.fixture(scope="module")
def autoencoder(data, tmp_path_factory):
    """A model that reconstructs the opening beats of four rock performances.

    Re-encoding decoded beats lands near their latent only once the decoder uses z, which the
    few hundred CPU steps of `trained` do not reach on all rock beats (the decoder still plays
    one average groove). Four beats at a higher learning rate usually reach 99% accuracy in
    600-1,000 steps; when the encoder is slow to separate them, training continues (raising
    `num_steps` resumes from the checkpoint) up to 2,000 steps.
    """
    root = tmp_path_factory.mktemp("autoencoder")
    performances = data["metadata"].query("style == 'rock' and beat_type == 'beat' and time_signature == '4-4' and split == 'train' and bars >= 8").head(4)
    opening_windows(data, performances["path"]).save(root / "openings.npz")
    for num_steps in (600, 1000, 1500, 2000):
        variant = tiny_variant(num_steps=num_steps, seed=2, checkpoint_every=100)
        variant["hparams"].update(learning_rate=0.01, decay_rate=0.9995)
        summary = finished_summary(run_training(variant, root / "openings.npz", root / "checkpoints", root / "model"))
        if pd.read_csv(root / "model/scalars.csv")["accuracy"].iloc[-3:].mean() > 0.99:
            break
    return {"model_dir": root / "model", "summary": summary, "ids": performances["id"].tolist(), "openings": root / "openings.npz"}


def test_autoencoder_reconstructs_its_beats(autoencoder):
    accuracy = pd.read_csv(autoencoder["model_dir"] / "scalars.csv")["accuracy"]
    assert accuracy.iloc[-3:].mean() > 0.99, accuracy.tail().tolist()


@pytest.mark.parametrize("temperature", [0.5, 0.01])
def test_interpolation_is_32_bars_whose_ends_encode_close_to_the_endpoints(autoencoder, data, tmp_path, temperature):
    from beatvae.dataset import Windows
    from beatvae.generation import endpoint_latents, interpolate, load_trained_model

    model = load_trained_model(autoencoder["summary"]["variant"], CONVERTER, autoencoder["model_dir"], batch_size=8, seed=3)
    # The two beats the model keeps furthest apart: a short training run may still place two
    # of the four nearly on top of each other, and then neither end could be told apart.
    openings = Windows.load(autoencoder["openings"])
    _, mu, _ = model.encode_tensors(list(openings.inputs), list(openings.lengths))
    apart = np.linalg.norm(mu[:, None] - mu[None, :], axis=-1)
    first, last = np.unravel_index(np.argmax(apart), apart.shape)
    endpoints = {"source": "dataset", "first": autoencoder["ids"][first], "last": autoencoder["ids"][last]}
    interpolation = {"num_steps": 8, "temperature": temperature}
    steps = [tmp_path / f"step_{i}.mid" for i in range(8)]
    first_z, last_z = endpoint_latents(model, endpoints, CONVERTER, metadata=data["metadata"], gmd_root=data["gmd_root"])
    z = interpolate(model, first_z, last_z, interpolation, CONVERTER, 120, tmp_path / "interpolation.mid", steps)
    np.testing.assert_allclose(z[[0, -1]], [first_z, last_z], atol=1e-5)
    # Each step is sin((1-t)w)/sin(w) * first + sin(tw)/sin(w) * last: spherical, not straight-line, weights.
    weights, *_ = np.linalg.lstsq(np.stack([first_z, last_z], axis=1), z.T, rcond=None)
    omega = np.arccos(np.dot(first_z, last_z) / np.linalg.norm(first_z) / np.linalg.norm(last_z))
    t = np.linspace(0, 1, 8)
    np.testing.assert_allclose(weights, [np.sin((1 - t) * omega) / np.sin(omega), np.sin(t * omega) / np.sin(omega)], atol=1e-3)

    joined = read_midi(tmp_path / "interpolation.mid")
    bar_seconds = 2.0
    assert 31 * bar_seconds < max(n.start_time for n in joined.notes) < 32 * bar_seconds
    assert len(joined.notes) == sum(len(read_midi(p).notes) for p in steps)

    # Re-encoded as interpolation endpoints given as MIDI files are.
    first_segment, last_segment = endpoint_latents(model, {"source": "files", "first": steps[0], "last": steps[-1]}, CONVERTER)
    distance = lambda a, b: float(np.linalg.norm(a - b))  # noqa: E731
    assert distance(first_segment, first_z) < distance(first_segment, last_z) / 2
    assert distance(last_segment, last_z) < distance(last_segment, first_z) / 2


def test_opening_window_skips_a_silent_count_in_and_rejects_a_too_short_performance(data):
    import note_seq

    from beatvae.dataset import midi_to_note_sequence
    from beatvae.generation import opening_window

    rows = data["metadata"].query("style == 'rock' and beat_type == 'beat' and time_signature == '4-4' and bars >= 8")
    sequence = midi_to_note_sequence(data["gmd_root"], rows["path"].iloc[0])
    bar_seconds = 4 * 60.0 / sequence.tempos[0].qpm
    delayed = note_seq.NoteSequence()
    delayed.CopyFrom(sequence)
    for note in delayed.notes:  # two silent bars before the first hit; the tempo still starts at 0
        note.start_time += 2 * bar_seconds
        note.end_time += 2 * bar_seconds
    delayed.total_time += 2 * bar_seconds
    opening, delayed_opening = opening_window(sequence, CONVERTER), opening_window(delayed, CONVERTER)
    assert len(opening.inputs) == len(delayed_opening.inputs) == 1, "one window, not also the one a bar later"
    np.testing.assert_array_equal(delayed_opening.inputs[0], opening.inputs[0])

    short = data["metadata"].query("bars < 1").iloc[0]
    with pytest.raises(ValueError, match="no 4-bar 4/4 drum window"):
        opening_window(midi_to_note_sequence(data["gmd_root"], short["path"]), CONVERTER)
