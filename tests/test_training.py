"""Training, resuming, sampling and interpolation with Magenta's MusicVAE on the real GMD sample
(slow tier: every test that trains); reading an endpoint's opening window needs no model (fast tier)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from beatvae.dataset import make_converter, read_note_sequences, windows_from_note_sequences
from beatvae.settings import window_steps
from conftest import DRUMS, GROOVE, HIERDEC_MODEL, REPO, training_defaults


def tiny_variant(num_steps, seed=1, checkpoint_every=50, validate_every=0, **training):
    """A hierdec MusicVAE small enough to learn something on 2 CPU cores in under a minute."""
    return {
        "model": dict(HIERDEC_MODEL),
        "hparams": {
            "batch_size": 32,
            "z_size": 32,
            "enc_rnn_size": [64],
            "dec_rnn_size": [64, 64],
            "free_bits": 48,
            "max_beta": 0.2,
            "beta_rate": 0.0,
            "sampling_schedule": "inverse_sigmoid",
            "sampling_rate": 1000,
            "learning_rate": 0.003,
            "decay_rate": 0.999,
            "min_learning_rate": 0.0001,
            "dropout_keep_prob": 1.0,
            "grad_clip": 1.0,
            "clip_mode": "global_norm",
            "grad_norm_clip_to_zero": 10000,
            "residual_encoder": False,
            "residual_decoder": False,
            "use_cudnn": False,
        },
        "training": {
            **training_defaults(),
            "num_steps": num_steps,
            "seed": seed,
            "checkpoint_every_steps": checkpoint_every,
            "checkpoints_to_keep": 3,
            "log_every_steps": 10,
            "validate_every_steps": validate_every,
            **training,
        },
    }


@pytest.fixture(scope="module")
def data(data_half):
    """Rock-beat windows of the embedded sample, through the real data stages."""
    return data_half("rock", {"style": "rock", "beat_type": "beat", "time_signature": "4-4"}, DRUMS)


def child(command, *args, env=None, **popen):
    """Runs tests/training_job.py in a fresh interpreter, as the Snakemake job runs (and so it can be killed)."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(REPO / "src"), env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-m", "training_job", command, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        **popen,
    )


def run_training(
    variant, windows, checkpoint_dir, model_dir, validation=None, init_from=None, representation=DRUMS, **popen
):
    extra = [validation or "-"] + ([init_from] if init_from else [])
    return child(
        "train", json.dumps(variant), json.dumps(representation), windows, checkpoint_dir, model_dir, *extra, **popen
    )


def finished(process, timeout=600):
    """(result, output) of a child that must succeed."""
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return json.loads(next(line for line in output.splitlines() if line.startswith("RESULT"))[len("RESULT ") :]), output


def finished_summary(process, timeout=600):
    return finished(process, timeout)[0]


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """200 steps, validated every 50 on the validation split, the best checkpoint exported."""
    root = tmp_path_factory.mktemp("trained")
    variant = tiny_variant(num_steps=200, validate_every=50)
    summary, output = finished(
        run_training(
            variant, data["windows"]["train"], root / "checkpoints", root / "model", data["windows"]["validation"]
        )
    )
    return {
        "variant": variant,
        "model_dir": root / "model",
        "checkpoints": root / "checkpoints",
        "summary": summary,
        "output": output,
    }


@pytest.mark.slow
def test_training_lowers_the_loss_and_exports_the_best_validated_checkpoint(trained):
    scalars = pd.read_csv(trained["model_dir"] / "scalars.csv")
    assert scalars["step"].tolist() == list(range(10, 201, 10))
    first, last = scalars["r_loss"].iloc[:3].mean(), scalars["r_loss"].iloc[-3:].mean()
    assert last < 0.9 * first, (first, last)
    assert scalars["accuracy"].iloc[-3:].mean() > scalars["accuracy"].iloc[:3].mean()
    assert trained["summary"]["steps"] == 200 and trained["summary"]["resumed_from_step"] == 0

    validated = scalars.dropna(subset=["validation_loss"])
    assert validated["step"].tolist() == [50, 100, 150, 200]
    for column in (
        "validation_r_loss",
        "validation_kl_bits",
        "validation_accuracy",
        "validation_free_running_accuracy",
    ):
        assert validated[column].notna().all(), column
    assert (validated["validation_accuracy"].between(0, 1)).all()
    best_step = int(validated.loc[validated["validation_loss"].idxmin(), "step"])
    exported = trained["summary"]["exported"]
    assert exported["step"] == best_step and "lowest validation loss" in exported["reason"], exported
    assert (trained["model_dir"] / f"model.ckpt-{best_step}.index").exists()
    stored = json.loads((trained["model_dir"] / "training.json").read_text())
    assert stored["exported"] == exported and stored["validation_windows"] > 0
    assert "device" in stored and "ETA" in trained["output"]
    assert stored["representation"] == DRUMS, "the representation it was trained on, under its name"


@pytest.mark.slow
def test_validation_during_training_measures_what_evaluation_measures(trained, data):
    from beatvae.dataset import Windows
    from beatvae.evaluation import reconstruction_metrics
    from beatvae.model import TrainedModelDir

    best = trained["summary"]["best_validation"]
    model = TrainedModelDir.load(trained["model_dir"])
    windows = Windows.load(data["windows"]["validation"])
    batch_size, seed = trained["variant"]["hparams"]["batch_size"], trained["variant"]["training"]["seed"]
    measured = reconstruction_metrics(model, windows, batch_size, "teacher_forced", seed)
    assert measured["loss"] == pytest.approx(best["validation_loss"], rel=1e-6)


@pytest.mark.slow
def test_evaluation_warns_about_a_held_out_split_without_windows(trained, data, tmp_path, caplog):
    """A subset without validation files must not finish silently without held-out metrics."""
    from beatvae.comparison import comparison_row
    from beatvae.dataset import Windows
    from beatvae.evaluation import evaluate_variant

    empty = Windows.load(data["windows"]["validation"])
    empty = Windows(empty.inputs[:0], empty.labels[:0], empty.lengths[:0], empty.sources[:0])
    empty.save(tmp_path / "validation.npz")
    evaluation = {"seed": 7, "batch_size": 32, "num_samples": 8, "targets": None}
    with caplog.at_level("WARNING"):
        report = evaluate_variant(
            trained["model_dir"],
            {"validation": tmp_path / "validation.npz", "test": data["windows"]["validation"]},
            data["windows"]["train"],
            evaluation,
            temperature=0.5,
        )
    assert report["warnings"] == ["the validation split has no windows: no held-out metrics on it"]
    assert "the validation split has no windows" in caplog.text
    assert report["reconstruction"]["test"]["teacher_forced"]["windows"] > 0
    row = comparison_row("tiny", report)
    assert row["warnings"] == report["warnings"][0]
    assert row["target_free_running_accuracy"] == "not evaluated"


@pytest.mark.slow
def test_training_writes_tensorboard_events_for_train_and_validation(trained):
    import tensorflow as tf

    tags = {}
    for run in ("train", "validation"):
        files = list((trained["checkpoints"] / run).glob("events.out.tfevents.*"))
        assert files, f"no event file in {trained['checkpoints'] / run}"
        tags[run] = {
            (value.tag, event.step)
            for path in files
            for event in tf.compat.v1.train.summary_iterator(str(path))
            for value in event.summary.value
        }
    assert ("loss", 200) in tags["train"] and ("accuracy", 10) in tags["train"]
    assert {("loss", 50), ("free_running_accuracy", 200)} <= tags["validation"]


@pytest.mark.slow
def test_checkpoint_reloads_in_a_fresh_process(trained, data):
    encoded = finished_summary(child("encode", trained["model_dir"], data["windows"]["validation"], 4), timeout=300)
    assert encoded["shape"] == [4, 32] and encoded["abs_sum"] > 0


def wait_for_checkpoint(checkpoint_dir, min_step, process, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, process.stdout.read()[-3000:]
        steps = [int(p.name.split("-")[1].split(".")[0]) for p in Path(checkpoint_dir).glob("model.ckpt-*.index")]
        if steps and max(steps) >= min_step:
            return max(steps)
        time.sleep(0.5)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.slow
@pytest.mark.parametrize("kill_signal", [signal.SIGKILL, signal.SIGTERM])
def test_killed_training_resumes_from_its_last_checkpoint(data, tmp_path, kill_signal):
    checkpoints, model_dir = tmp_path / "checkpoints", tmp_path / "model"
    process = run_training(
        tiny_variant(num_steps=100_000, checkpoint_every=20), data["windows"]["train"], checkpoints, model_dir
    )
    saved = wait_for_checkpoint(checkpoints, 20, process)
    if kill_signal == signal.SIGKILL:  # (once) a second trainer on the same folder fails at once, naming the holder
        second = run_training(
            tiny_variant(num_steps=100_000, checkpoint_every=20),
            data["windows"]["train"],
            checkpoints,
            tmp_path / "other",
        )
        output, _ = second.communicate(timeout=120)
        assert second.returncode != 0
        assert f"{checkpoints} is being trained by another process (pid {process.pid} on host" in output, output[-2000:]
        assert process.poll() is None, "the first trainer runs on"
    process.send_signal(kill_signal)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert not model_dir.exists(), "the declared output must not appear for an unfinished run"
    if kill_signal == signal.SIGTERM:
        assert "checkpoint saved" in output
    last_saved = max(int(p.name.split("-")[1].split(".")[0]) for p in checkpoints.glob("model.ckpt-*.index"))
    assert last_saved >= saved

    summary = finished_summary(
        run_training(
            tiny_variant(num_steps=last_saved + 20, checkpoint_every=20),
            data["windows"]["train"],
            checkpoints,
            model_dir,
        )
    )
    assert summary["resumed_from_step"] == last_saved
    assert summary["exported"]["step"] == last_saved + 20, "never validated: the last checkpoint"
    assert summary["steps"] == last_saved + 20 and summary["steps_this_run"] == 20
    steps = pd.read_csv(model_dir / "scalars.csv")["step"]
    assert steps.is_monotonic_increasing and steps.is_unique and steps.iloc[-1] == last_saved + 20


@pytest.mark.slow
def test_changed_settings_or_data_start_over_and_say_why(data, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    train, other_data = data["windows"]["train"], data["windows"]["validation"]
    first = finished_summary(
        run_training(tiny_variant(num_steps=20, checkpoint_every=10), train, checkpoints, tmp_path / "a")
    )
    other_seed, output = finished(
        run_training(tiny_variant(num_steps=30, seed=2, checkpoint_every=10), train, checkpoints, tmp_path / "b")
    )
    assert other_seed["resumed_from_step"] == 0 and other_seed["steps"] == 30
    assert "changed: seed" in output
    # Same settings, other training windows (a changed subset filter or GMD archive): no stale resume.
    other_windows, output = finished(
        run_training(tiny_variant(num_steps=30, seed=2, checkpoint_every=10), other_data, checkpoints, tmp_path / "c")
    )
    assert other_windows["resumed_from_step"] == 0, "resumed weights trained on other data"
    assert "changed: training_windows" in output
    assert other_windows["fingerprint"] != other_seed["fingerprint"] != first["fingerprint"]
    assert sorted(p.name for p in tmp_path.iterdir() if ".previous-" in p.name) == [], (
        "set-aside folders dropped after the first save"
    )


def checkpoint_steps(checkpoint_dir):
    """The steps of the checkpoints in a folder (not those copied to best/)."""
    return sorted(int(p.name.split("-")[1].split(".")[0]) for p in Path(checkpoint_dir).glob("model.ckpt-*.index"))


@pytest.mark.slow
def test_a_stop_after_a_changed_setting_keeps_the_old_checkpoints_and_a_revert_resumes_them(data, tmp_path):
    """A mistaken but valid edit (z_size), stopped one checkpoint later: the old checkpoints stay set
    aside (a stop-signal save is not the new run's model), and reverting the edit resumes them."""
    checkpoints, model_dir, train = tmp_path / "checkpoints", tmp_path / "model", data["windows"]["train"]
    first = finished_summary(
        run_training(tiny_variant(num_steps=20, checkpoint_every=10), train, checkpoints, model_dir)
    )
    edited = tiny_variant(num_steps=100_000, checkpoint_every=10)
    edited["hparams"]["z_size"] = 24
    process = run_training(edited, train, checkpoints, model_dir)
    kept = tmp_path / f"checkpoints.previous-{first['fingerprint']}"
    deadline = time.time() + 300
    while not kept.exists():  # the edited run has set the old checkpoints aside
        assert process.poll() is None and time.time() < deadline, process.stdout.read()[-3000:]
        time.sleep(0.2)
    wait_for_checkpoint(checkpoints, 10, process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0 and "checkpoint saved" in output, output[-2000:]
    assert checkpoint_steps(kept) == [10, 20], sorted(p.name for p in tmp_path.iterdir())

    reverted = finished_summary(
        run_training(tiny_variant(num_steps=30, checkpoint_every=10), train, checkpoints, model_dir)
    )
    assert reverted["fingerprint"] == first["fingerprint"] and reverted["resumed_from_step"] == 20
    assert [p.name for p in tmp_path.iterdir() if ".previous-" in p.name] == [], "dropped once a run has exported"


@pytest.mark.slow
def test_interrupted_runs_keep_at_most_checkpoints_to_keep_and_the_best_one(data, tmp_path):
    """Each stopped run saves its own checkpoints: the folder still holds at most
    training.checkpoints_to_keep (3), and the best validated one survives to be exported."""
    checkpoints, model_dir = tmp_path / "checkpoints", tmp_path / "model"
    variant = tiny_variant(num_steps=100_000, checkpoint_every=10, validate_every=10)
    windows = data["windows"]["train"], checkpoints, model_dir, data["windows"]["validation"]
    last = 0
    for run in range(3):
        process = run_training(variant, *windows)
        wait_for_checkpoint(checkpoints, last + 30, process)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
        assert process.returncode != 0 and "checkpoint saved" in output, output[-2000:]
        steps = checkpoint_steps(checkpoints)
        assert len(steps) <= 3 and steps[-1] >= last + 30, (run, steps)
        last = steps[-1]

    variant["training"]["num_steps"] = last + 10
    summary = finished_summary(run_training(variant, *windows))
    assert summary["resumed_from_step"] == last and len(checkpoint_steps(checkpoints)) <= 3
    best = summary["best_validation"]
    assert summary["exported"]["step"] == best["step"] and "lowest validation loss" in summary["exported"]["reason"]
    assert (model_dir / f"{best['checkpoint']}.index").exists()


@pytest.mark.slow
def test_num_steps_below_the_newest_checkpoint_is_an_error(data, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    finished_summary(
        run_training(
            tiny_variant(num_steps=20, checkpoint_every=10), data["windows"]["train"], checkpoints, tmp_path / "model"
        )
    )
    shorter = run_training(
        tiny_variant(num_steps=10, checkpoint_every=10), data["windows"]["train"], checkpoints, tmp_path / "model"
    )
    output, _ = shorter.communicate(timeout=300)
    assert shorter.returncode != 0
    assert "variants.test.training.num_steps is 10" in output and "checkpoint at step 20" in output, output[-2000:]
    assert json.loads((tmp_path / "model/training.json").read_text())["steps"] == 20, "the model folder is left alone"


@pytest.mark.slow
def test_a_time_limit_stops_training_saves_and_validates_its_last_step_and_a_rerun_resumes(data, tmp_path):
    from beatvae.checkpoints import saved_checkpoints

    # 0.6 s of steps: a handful of the 500 asked for, off the checkpoint and validation schedules.
    variant = tiny_variant(num_steps=500, checkpoint_every=400, validate_every=400, max_minutes=0.01)
    windows, validation = data["windows"]["train"], data["windows"]["validation"]
    checkpoints, model = tmp_path / "checkpoints", tmp_path / "model"
    summary, output = finished(run_training(variant, windows, checkpoints, model, validation))
    steps = summary["steps"]
    assert summary["stopped_at_time_limit"] and 0 < steps < 400, summary
    assert "time limit: 0.01 minutes of training (training.max_minutes) reached at step" in output
    assert [step for step, _ in saved_checkpoints(checkpoints)] == [steps], "the last step is saved"
    assert summary["best_validation"]["step"] == steps == summary["exported"]["step"], "validated and exported"

    again = finished_summary(run_training(variant, windows, checkpoints, model, validation))
    assert again["resumed_from_step"] == steps and again["steps"] > steps and again["stopped_at_time_limit"]


@pytest.mark.slow
def test_fine_tuning_starts_from_the_source_models_weights(trained, data, tmp_path):
    import tensorflow as tf

    variant = tiny_variant(num_steps=1, checkpoint_every=1)
    variant["hparams"].update(learning_rate=1e-9, min_learning_rate=1e-10)  # one step that barely moves a weight
    tuned = finished_summary(
        run_training(
            variant,
            data["windows"]["validation"],
            tmp_path / "checkpoints",
            tmp_path / "model",
            init_from=trained["model_dir"],
        )
    )
    assert tuned["init_from"]["fingerprint"] == trained["summary"]["fingerprint"]
    assert tuned["steps"] == 1, "the step count starts over"
    source = str(trained["model_dir"] / trained["summary"]["exported"]["checkpoint"])
    target = str(tmp_path / "model" / tuned["exported"]["checkpoint"])
    weights = [
        name
        for name, _ in tf.train.list_variables(source)
        if name.startswith("encoder/") or name.startswith("decoder/")
    ]
    assert len(weights) > 4
    for name in weights:
        np.testing.assert_allclose(
            tf.train.load_variable(target, name), tf.train.load_variable(source, name), atol=1e-5, err_msg=name
        )

    fresh = finished_summary(
        run_training(variant, data["windows"]["validation"], tmp_path / "fresh", tmp_path / "fresh-model")
    )
    assert fresh["fingerprint"] != tuned["fingerprint"]

    other_shape = tiny_variant(num_steps=1)
    other_shape["hparams"]["z_size"] = 16
    process = run_training(
        other_shape, data["windows"]["validation"], tmp_path / "c3", tmp_path / "m3", init_from=trained["model_dir"]
    )
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0 and "variants.test.training.init_from" in output, output[-2000:]
    assert "hparams.z_size (model: 32, test: 16)" in output, output[-2000:]


GENERATION = {"num_samples": 8, "temperature": 0.5, "seed": 11, "qpm": 100}


def read_midi(path):
    import note_seq

    return note_seq.midi_file_to_note_sequence(str(path))


@pytest.mark.slow
def test_samples_are_reproducible_four_bar_general_midi_drums(trained, tmp_path):
    import mido

    from beatvae.generation import generate_samples
    from beatvae.model import TrainedModelDir

    runs = {}
    model = TrainedModelDir.load(trained["model_dir"])
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        paths = [tmp_path / name / f"sample_{i}.mid" for i in range(8)]
        generate_samples(model, dict(GENERATION, seed=seed), paths, tmp_path / f"{name}.npy")
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

    tensors = [opening_window(midi_to_note_sequence(data["gmd_root"], path), DRUMS) for path in paths]
    return Windows(
        np.stack([np.asarray(t.inputs[0], bool) for t in tensors]),
        np.stack([np.argmax(t.outputs[0], axis=-1).astype(np.int16) for t in tensors]),
        np.asarray([t.lengths[0] for t in tensors], np.int32),
        np.asarray(list(paths)),
    )


AUTOENCODER_STEPS = 1200


@pytest.fixture(scope="module")
def autoencoder(data, tmp_path_factory):
    """A model that reconstructs the opening beats of four rock performances.

    Re-encoding decoded beats lands near their latent only once the decoder uses z, which the
    few hundred CPU steps of `trained` do not reach on all rock beats (the decoder still plays
    one average groove). Four beats at a higher learning rate do, in a fixed number of steps;
    deterministic ops and fixed seeds make the run the same every time.
    """
    root = tmp_path_factory.mktemp("autoencoder")
    performances = (
        data["metadata"]
        .query("style == 'rock' and beat_type == 'beat' and time_signature == '4-4' and split == 'train' and bars >= 8")
        .head(4)
    )
    opening_windows(data, performances["path"]).save(root / "openings.npz")
    variant = tiny_variant(num_steps=AUTOENCODER_STEPS, seed=2, checkpoint_every=AUTOENCODER_STEPS)
    variant["hparams"].update(learning_rate=0.01, decay_rate=0.9995)
    env = dict(os.environ, TF_DETERMINISTIC_OPS="1")
    summary = finished_summary(
        run_training(variant, root / "openings.npz", root / "checkpoints", root / "model", env=env)
    )
    return {
        "model_dir": root / "model",
        "summary": summary,
        "ids": performances["id"].tolist(),
        "openings": root / "openings.npz",
    }


@pytest.mark.slow
def test_autoencoder_reconstructs_its_beats(autoencoder):
    accuracy = pd.read_csv(autoencoder["model_dir"] / "scalars.csv")["accuracy"]
    assert accuracy.iloc[-3:].mean() > 0.99, accuracy.tail().tolist()


@pytest.mark.slow
@pytest.mark.parametrize("temperature", [0.5, 0.01])
def test_interpolation_is_32_bars_whose_ends_encode_close_to_the_endpoints(autoencoder, data, tmp_path, temperature):
    from beatvae.dataset import Windows
    from beatvae.generation import dataset_endpoints, file_endpoints, interpolate
    from beatvae.model import TrainedModelDir

    trained = TrainedModelDir.load(autoencoder["model_dir"]).trained_model(batch_size=8, seed=3)
    # The two beats the model keeps furthest apart: a short training run may still place two
    # of the four nearly on top of each other, and then neither end could be told apart.
    openings = Windows.load(autoencoder["openings"])
    _, mu, _ = trained.encode_tensors(list(openings.inputs), list(openings.lengths))
    apart = np.linalg.norm(mu[:, None] - mu[None, :], axis=-1)
    first, last = np.unravel_index(np.argmax(apart), apart.shape)
    endpoints = {"source": "dataset", "first": autoencoder["ids"][first], "last": autoencoder["ids"][last]}
    interpolation = {"num_steps": 8, "temperature": temperature}
    steps = [tmp_path / f"step_{i}.mid" for i in range(8)]
    first_z, last_z = dataset_endpoints(trained, endpoints, DRUMS, data["metadata"], data["gmd_root"])
    z = interpolate(trained, first_z, last_z, interpolation, DRUMS, 120, tmp_path / "interpolation.mid", steps)
    np.testing.assert_allclose(z[[0, -1]], [first_z, last_z], atol=1e-5)
    # Each step is sin((1-t)w)/sin(w) * first + sin(tw)/sin(w) * last: spherical, not straight-line, weights.
    weights, *_ = np.linalg.lstsq(np.stack([first_z, last_z], axis=1), z.T, rcond=None)
    omega = np.arccos(np.dot(first_z, last_z) / np.linalg.norm(first_z) / np.linalg.norm(last_z))
    t = np.linspace(0, 1, 8)
    np.testing.assert_allclose(
        weights, [np.sin((1 - t) * omega) / np.sin(omega), np.sin(t * omega) / np.sin(omega)], atol=1e-3
    )

    joined = read_midi(tmp_path / "interpolation.mid")
    bar_seconds = 2.0
    assert 31 * bar_seconds < max(n.start_time for n in joined.notes) < 32 * bar_seconds
    assert len(joined.notes) == sum(len(read_midi(p).notes) for p in steps)

    # Re-encoded as interpolation endpoints given as MIDI files are.
    first_segment, last_segment = file_endpoints(trained, [steps[0], steps[-1]], DRUMS)
    distance = lambda a, b: float(np.linalg.norm(a - b))  # noqa: E731
    assert distance(first_segment, first_z) < distance(first_segment, last_z) / 2
    assert distance(last_segment, last_z) < distance(last_segment, first_z) / 2


@pytest.mark.tensorflow
def test_opening_window_skips_a_silent_count_in_and_rejects_a_too_short_performance(sample_gmd):
    data = sample_gmd  # the unpacked sample and its metadata: no windows needed
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
    opening, delayed_opening = opening_window(sequence, DRUMS), opening_window(delayed, DRUMS)
    assert len(opening.inputs) == len(delayed_opening.inputs) == 1, "one window, not also the one a bar later"
    np.testing.assert_array_equal(delayed_opening.inputs[0], opening.inputs[0])

    short = data["metadata"].query("bars < 1").iloc[0]
    with pytest.raises(ValueError, match="no 4-bar 4/4 drum window"):
        opening_window(midi_to_note_sequence(data["gmd_root"], short["path"]), DRUMS)


@pytest.mark.slow
def test_killed_groove_training_resumes_validates_and_humanizes(data, tmp_path):
    """A GrooVAE variant goes through the same loop: killed, it resumes from its checkpoint; it is
    validated on its hits/velocities/offsets losses; the exported model humanizes a GMD beat."""
    import note_seq

    from beatvae.groove import apply_groove, humanize_windows, quantized_drums
    from beatvae.model import TrainedModelDir

    converter = make_converter(GROOVE)
    paths = {}
    for split in ("train", "validation"):
        windows = windows_from_note_sequences(
            read_note_sequences(data["root"] / f"{split}.tfrecord"), converter, window_steps(GROOVE)
        )
        assert windows.controls is not None and windows.labels.shape[1:] == (64, 27)
        paths[split] = tmp_path / f"{split}.npz"
        windows.save(paths[split])
    variant = tiny_variant(num_steps=100_000, checkpoint_every=20)
    variant["model"]["level_lengths"] = None
    variant["hparams"].update(sampling_schedule="constant", sampling_rate=0.0)
    checkpoints, model_dir = tmp_path / "checkpoints", tmp_path / "model"
    process = run_training(variant, paths["train"], checkpoints, model_dir, representation=GROOVE)
    wait_for_checkpoint(checkpoints, 20, process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0 and "checkpoint saved" in output and not model_dir.exists()
    saved = max(int(p.name.split("-")[1].split(".")[0]) for p in checkpoints.glob("model.ckpt-*.index"))

    variant["training"].update(num_steps=saved + 40, validate_every_steps=20)
    summary = finished_summary(
        run_training(
            variant, paths["train"], checkpoints, model_dir, validation=paths["validation"], representation=GROOVE
        )
    )
    assert summary["resumed_from_step"] == saved and summary["steps"] == saved + 40
    scalars = pd.read_csv(model_dir / "scalars.csv")
    validated = scalars.dropna(subset=["validation_velocities_loss"])
    expected = sorted({step for step in range(saved + 1, saved + 41) if step % 20 == 0} | {saved + 40})
    assert validated["step"].tolist() == expected and validated["validation_offsets_loss"].gt(0).all()
    assert scalars["hits_loss"].notna().any() and scalars["accuracy"].isna().all()

    model = TrainedModelDir.load(model_dir)
    sequence = note_seq.midi_file_to_note_sequence(
        str(data["gmd_root"] / data["metadata"].query("beat_type == 'beat' and duration > 20")["path"].iloc[0])
    )
    drums = quantized_drums(sequence, model.representation, "beat")
    humanized = apply_groove(
        sequence, drums, humanize_windows(model.trained_model(batch_size=1, seed=0), drums.inputs, drums.controls, 0.5)
    )
    assert len(humanized.notes) == len(sequence.notes)
    assert len({note.velocity for note in humanized.notes}) > 1
