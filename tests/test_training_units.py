"""Fast tests of the training plumbing (no training): model configs and fingerprints, checkpoint
folders and their lock, the scalars CSV, the loss table and plot, trained model folders."""

import copy
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from beatvae.checkpoints import (
    BestCheckpoint,
    CheckpointDirBusy,
    CheckpointLock,
    TrainingSettingsError,
    check_num_steps,
    prepare_checkpoint_dir,
    prune_checkpoints,
)
from beatvae.dataset import Windows
from beatvae.losses import loss_table, plot_losses
from beatvae.model import TrainedModelDir, build_config, fingerprint, fingerprint_parts, windows_digest
from beatvae.settings import SettingsError, settings_digest
from beatvae.tfgraph import checkpoint_step, even_batch_size
from beatvae.training import SCALAR_COLUMNS, TrainingRun, train_variant, truncate_scalars
from conftest import DRUMS, HIERDEC_MODEL, training_defaults

VARIANT = {
    "model": dict(HIERDEC_MODEL),
    "hparams": {
        "batch_size": 16,
        "z_size": 16,
        "enc_rnn_size": [32],
        "dec_rnn_size": [32, 32],
        "free_bits": 48,
        "max_beta": 0.2,
    },
    "training": {**training_defaults(), "num_steps": 20, "seed": 1, "checkpoint_every_steps": 10, "log_every_steps": 5},
}


def random_windows(count=8, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 512, (count, 64)).astype(np.int16)
    inputs = ((labels[..., None] >> np.arange(9)) & 1).astype(bool)
    inputs = np.concatenate([inputs, np.zeros((count, 64, 1), bool)], axis=-1)
    return Windows(inputs, labels, np.full(count, 64, np.int32), np.asarray([f"id{i}" for i in range(count)]))


@pytest.mark.tensorflow
def test_build_config_derives_the_window_length_and_rejects_shapes_that_do_not_fit():
    config = build_config(VARIANT, DRUMS)
    assert config.hparams.max_seq_len == 64
    assert (config.hparams.z_size, config.hparams.enc_rnn_size, config.hparams.dec_rnn_size) == (16, [32], [32, 32])
    assert config.data_converter.output_depth == 512
    assert build_config(VARIANT, DRUMS, batch_size=3).hparams.batch_size == 3
    bad = copy.deepcopy(VARIANT)
    bad["model"]["level_lengths"] = [3, 7]
    with pytest.raises(SettingsError, match=r"level_lengths \[3, 7\] multiply to 21, but a window is 64 steps"):
        build_config(bad, DRUMS)


def changed(section, key, value):
    variant = copy.deepcopy(VARIANT)
    variant[section][key] = value
    return variant


@pytest.mark.parametrize(
    "variant, representation, digest, part",
    [
        (changed("model", "level_lengths", [8, 8]), DRUMS, "d0", "model"),
        (changed("hparams", "z_size", 32), DRUMS, "d0", "hparams"),
        (changed("training", "seed", 2), DRUMS, "d0", "seed"),
        (VARIANT, dict(DRUMS, roll_input=False), "d0", "converter"),
        (VARIANT, DRUMS, "d1", "training_windows"),
    ],
)
def test_fingerprint_changes_with_each_thing_the_weights_depend_on(variant, representation, digest, part):
    base = fingerprint_parts(VARIANT, DRUMS, "d0")
    other = fingerprint_parts(variant, representation, digest)
    assert [key for key in base if base[key] != other[key]] == [part]
    assert fingerprint(base) != fingerprint(other)


def test_fingerprint_parts_keep_the_names_existing_checkpoint_folders_hashed():
    """The fingerprint hashes each part's name too: renaming one (the representation's part is still
    `converter`) would make every existing checkpoint folder look changed and train again."""
    parts = fingerprint_parts(VARIANT, DRUMS, "d0", init_from="abc")
    assert list(parts) == ["model", "hparams", "seed", "converter", "training_windows", "init_from"]
    assert parts["converter"] == settings_digest(DRUMS)


def test_fingerprint_ignores_loop_settings_and_includes_the_init_source():
    base = fingerprint(fingerprint_parts(VARIANT, DRUMS, "d0"))
    loop = changed("training", "num_steps", 5000)
    loop["training"].update(log_every_steps=1, checkpoint_every_steps=7, validate_every_steps=3, export="last")
    assert fingerprint(fingerprint_parts(loop, DRUMS, "d0")) == base
    assert fingerprint(fingerprint_parts(VARIANT, DRUMS, "d0", init_from="abc")) != base


def test_windows_digest_follows_the_content():
    windows = random_windows()
    assert windows_digest(windows) == windows_digest(random_windows())
    assert windows_digest(windows) != windows_digest(random_windows(seed=1))
    fewer = Windows(windows.inputs[:-1], windows.labels[:-1], windows.lengths[:-1], windows.sources[:-1])
    assert windows_digest(fewer) != windows_digest(windows)


def test_checkpoint_step_and_even_batches():
    assert checkpoint_step("results/checkpoints/v1/model.ckpt-1200") == 1200
    assert checkpoint_step(None) == 0 and checkpoint_step("model.ckpt") == 0
    assert even_batch_size(100, 64) == 50 and even_batch_size(64, 64) == 64 and even_batch_size(3, 64) == 3


def write_scalars(path, rows, columns):
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)


def test_truncated_scalars_drop_rows_after_the_resumed_step_and_keep_older_columns(tmp_path):
    path = tmp_path / "scalars.csv"
    old_columns = ["step", "loss", "accuracy"]  # an older CSV without the validation columns
    write_scalars(path, [[10, 1.0, 0.1], [20, 0.9, 0.2], [30, 0.8, 0.3]], old_columns)
    truncate_scalars(path, 20)
    table = pd.read_csv(path)
    assert table.columns.tolist() == SCALAR_COLUMNS
    assert table["step"].tolist() == [10, 20] and table["loss"].tolist() == [1.0, 0.9]
    assert table["validation_loss"].isna().all()
    truncate_scalars(tmp_path / "new.csv", 0)
    assert pd.read_csv(tmp_path / "new.csv").columns.tolist() == SCALAR_COLUMNS


def fake_checkpoint(folder, step, fingerprint_value, parts=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fingerprint.json").write_text(json.dumps({"fingerprint": fingerprint_value, "parts": parts or {}}))
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "model.ckpt-{step}"\n')
    (folder / f"model.ckpt-{step}.index").write_text("")


def test_changed_fingerprint_sets_old_checkpoints_aside_and_a_revert_brings_them_back(tmp_path, caplog):
    folder = tmp_path / "v1"
    fake_checkpoint(folder, 100, "old", {"seed": "a", "model": "m"})
    assert prepare_checkpoint_dir(folder, "old") is None
    assert (folder / "model.ckpt-100.index").exists()

    with caplog.at_level("WARNING"):
        aside = prepare_checkpoint_dir(folder, "new", {"seed": "b", "model": "m"})
    assert aside == tmp_path / "v1.previous-old" and (aside / "model.ckpt-100.index").exists()
    assert "changed: seed (a -> b)" in caplog.text
    assert sorted(p.name for p in folder.iterdir()) == ["fingerprint.json"]

    # Back to the old settings before the new run saved anything: the old checkpoints return.
    prepare_checkpoint_dir(folder, "old")
    assert (folder / "model.ckpt-100.index").exists()
    assert (tmp_path / "v1.previous-new").exists() is False  # the empty new folder held no checkpoints


def test_num_steps_below_the_newest_checkpoint_names_the_key(tmp_path):
    check_num_steps(100, str(tmp_path / "model.ckpt-100"), "v2")
    with pytest.raises(TrainingSettingsError, match=r"variants.v2.training.num_steps is 50, .* checkpoint at step 100"):
        check_num_steps(50, str(tmp_path / "model.ckpt-100"), "v2")


def test_a_second_lock_on_a_folder_fails_naming_the_holder_and_is_free_after_release(tmp_path):
    folder = tmp_path / "v1"
    with (
        CheckpointLock(folder),
        pytest.raises(
            CheckpointDirBusy, match=rf"{folder} is being trained by another process \(pid {os.getpid()} on host"
        ),
        CheckpointLock(folder),
    ):
        pass
    assert not (tmp_path / "v1.lock").exists()
    with CheckpointLock(folder):
        pass


def test_a_killed_holder_leaves_no_lock(tmp_path):
    folder = tmp_path / "v1"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from beatvae.checkpoints import CheckpointLock\n"
            "with CheckpointLock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(600)",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src")),
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CheckpointDirBusy, match=f"pid {holder.pid}"), CheckpointLock(folder):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / "v1.lock").exists(), "kill -9 leaves the file ..."
    with CheckpointLock(folder):  # ... but not the lock
        pass


@pytest.mark.tensorflow
def test_a_config_error_leaves_existing_checkpoints_alone(tmp_path):
    windows = random_windows()
    windows.save(tmp_path / "train.npz")
    folder = tmp_path / "checkpoints"
    fake_checkpoint(folder, 100, "trained-before")
    bad = changed("model", "level_lengths", [3, 7])
    with pytest.raises(SettingsError, match="level_lengths"):
        train_variant(TrainingRun(bad, DRUMS, tmp_path / "train.npz", folder, tmp_path / "model"))
    assert (folder / "model.ckpt-100.index").exists()
    assert json.loads((folder / "fingerprint.json").read_text())["fingerprint"] == "trained-before"


@pytest.mark.tensorflow
def test_training_below_the_newest_checkpoint_fails_before_touching_anything(tmp_path):
    windows = random_windows()
    windows.save(tmp_path / "train.npz")
    folder = tmp_path / "checkpoints"
    parts = fingerprint_parts(VARIANT, DRUMS, windows_digest(windows))
    fake_checkpoint(folder, 100, fingerprint(parts), parts)
    with pytest.raises(TrainingSettingsError, match="variants.v9.training.num_steps is 20"):
        train_variant(TrainingRun(VARIANT, DRUMS, tmp_path / "train.npz", folder, tmp_path / "model", name="v9"))
    assert not (tmp_path / "model").exists()


def test_loss_table_and_plot_with_and_without_validation(tmp_path):
    train = ["step", "loss", "r_loss", "kl_loss", "kl_bits", "accuracy", "beta", "sampling_probability"]
    train += ["learning_rate", "global_norm", "examples_per_second"]
    validation = ["validation_loss", "validation_r_loss", "validation_kl_bits", "validation_accuracy"]
    validation += ["validation_free_running_accuracy"]
    rows = [
        [10, 2.0, 1.9, 0.1, 40.0, 0.3, 0.1, 0.0, 0.003, 1.0, 100.0, None, None, None, None, None],
        [20, 1.5, 1.4, 0.1, 41.0, 0.4, 0.1, 0.0, 0.003, 1.0, 100.0, 1.6, 1.5, 40.0, 0.35, 0.2],
    ]
    assert set(train + validation) <= set(SCALAR_COLUMNS)
    write_scalars(tmp_path / "scalars.csv", rows, train + validation)
    table = loss_table(tmp_path / "scalars.csv")
    assert table["validation_loss"].tolist()[1] == 1.6 and np.isnan(table["validation_loss"].tolist()[0])
    assert table["validation_free_running_accuracy"].tolist()[1] == 0.2
    plot_losses(table, tmp_path / "losses.png", "test")
    assert (tmp_path / "losses.png").stat().st_size > 10_000

    write_scalars(tmp_path / "old.csv", [row[:11] for row in rows], train)
    old = loss_table(tmp_path / "old.csv")
    assert old["validation_loss"].isna().all() and old["reconstruction_loss"].tolist() == [1.9, 1.4]
    plot_losses(old, tmp_path / "old.png", "test")
    # A groove model logs its losses per output part instead of accuracies, and plots them.
    groove_columns = ["step", "loss", "r_loss", "kl_bits", "hits_loss", "velocities_loss", "offsets_loss"]
    groove_columns += ["validation_loss", "validation_velocities_loss"]
    groove_rows = [[10, 9.0, 8.9, 40.0, 0.1, 0.06, 0.12, None, None], [20, 8.0, 7.9, 41.0, 0.05, 0.05, 0.11, 8.5, 0.05]]
    write_scalars(tmp_path / "groove.csv", groove_rows, groove_columns)
    groove = loss_table(tmp_path / "groove.csv")
    assert groove["velocities_loss"].tolist() == [0.06, 0.05] and groove["validation_velocities_loss"].iloc[1] == 0.05
    assert "accuracy" not in groove and "validation_free_running_accuracy" not in groove
    assert "hits_loss" not in table and "accuracy" in table, "a drum-class model keeps its accuracies only"
    plot_losses(groove, tmp_path / "groove.png", "groove")
    assert (tmp_path / "groove.png").stat().st_size > 10_000
    write_scalars(tmp_path / "empty.csv", [], SCALAR_COLUMNS)
    with pytest.raises(ValueError, match="has no logged steps"):
        loss_table(tmp_path / "empty.csv")


@pytest.mark.tensorflow
def test_trained_model_dir_loads_settings_and_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"is not a trained model folder: training.json is missing"):
        TrainedModelDir.load(tmp_path)
    (tmp_path / "training.json").write_text(
        json.dumps({"variant": VARIANT, "representation": DRUMS, "fingerprint": "f"})
    )
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-150"\n')
    model = TrainedModelDir.load(tmp_path)
    assert model.checkpoint == str(tmp_path / "model.ckpt-150") and model.z_size == 16 and model.fingerprint == "f"
    assert model.config().hparams.max_seq_len == 64


@pytest.mark.tensorflow
def test_a_model_folder_exported_before_the_representation_rename_still_loads(tmp_path):
    """Older versions wrote the representation into training.json as `converter`."""
    (tmp_path / "training.json").write_text(json.dumps({"variant": VARIANT, "converter": DRUMS, "fingerprint": "f"}))
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-150"\n')
    model = TrainedModelDir.load(tmp_path)
    assert model.representation == DRUMS and model.fingerprint == "f"
    assert model.config().hparams.max_seq_len == 64


def test_an_exported_model_folder_holds_one_checkpoint_and_loads_back(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    for step in (10, 20):
        fake_checkpoint(checkpoints, step, "f")
        (checkpoints / f"model.ckpt-{step}.data-00000-of-00001").write_text(str(step))
    (checkpoints / "scalars.csv").write_text("step,loss\n10,1.0\n")
    summary = {"variant": VARIANT, "representation": DRUMS, "fingerprint": "f", "steps": 20}
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "left-by-an-older-export").write_text("")
    TrainedModelDir.export(model_dir, str(checkpoints / "model.ckpt-10"), checkpoints / "scalars.csv", summary)
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "checkpoint",
        "model.ckpt-10.data-00000-of-00001",
        "model.ckpt-10.index",
        "scalars.csv",
        "training.json",
    ], "the folder is replaced whole, with the chosen checkpoint only"
    model = TrainedModelDir.load(model_dir)
    assert model.checkpoint == str(model_dir / "model.ckpt-10") and model.summary["steps"] == 20
    assert model.scalars.read_text() == "step,loss\n10,1.0\n"
    assert not list(tmp_path.glob(".model.*")), "no staging folder is left"


def test_reading_a_model_folder_or_a_checkpoint_folder_needs_no_tensorflow(tmp_path):
    """The loss report and planning-side readers load the folders' owners without Magenta's start-up."""
    (tmp_path / "training.json").write_text(json.dumps({"variant": VARIANT, "representation": DRUMS}))
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-150"\n')
    script = (
        "import sys; from beatvae.checkpoints import saved_checkpoints; from beatvae.model import TrainedModelDir\n"
        "print(TrainedModelDir.load(sys.argv[1]).scalars.name, saved_checkpoints(sys.argv[1]))\n"
        "print(sorted({'tensorflow', 'magenta'} & set(sys.modules)))"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=src),
    )
    assert result.stdout.splitlines() == ["scalars.csv []", "[]"], result.stderr


@pytest.mark.tensorflow
def test_a_variant_that_asks_for_a_gpu_fails_at_once_without_one(tmp_path):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this host has a GPU")
    random_windows().save(tmp_path / "train.npz")
    with pytest.raises(RuntimeError, match=r"variants.v9.resources.gpus asks for 1 GPU\(s\), but TensorFlow sees none"):
        train_variant(
            TrainingRun(
                VARIANT,
                DRUMS,
                tmp_path / "train.npz",
                tmp_path / "checkpoints",
                tmp_path / "model",
                name="v9",
                gpus=1,
            )
        )
    assert not (tmp_path / "checkpoints").exists()


def test_best_checkpoint_keeps_the_lowest_validation_loss_and_counts_validations_since(tmp_path):
    folder = tmp_path / "checkpoints"
    for step in (10, 20, 30, 40):
        fake_checkpoint(folder, step, "f")
    best = BestCheckpoint(folder, "validation-digest")
    assert best.checkpoint is None and best.validations_since == 0
    improved = [
        best.update(str(folder / f"model.ckpt-{step}"), step, loss)
        for step, loss in ((10, 3.0), (20, 2.0), (30, 2.0), (40, 2.5))
    ]
    assert improved == [True, True, False, False]
    assert best.checkpoint == str(folder / "best/model.ckpt-20") and (folder / "best/model.ckpt-20.index").exists()
    assert best.validations_since == 2, "an equal loss is no improvement"

    reloaded = BestCheckpoint(folder, "validation-digest")  # a resumed run continues the count
    assert reloaded.record == best.record
    reloaded.forget_after(10)  # resumed before the best was chosen: it does not exist yet
    assert reloaded.checkpoint is None and not (folder / "best").exists()

    best = BestCheckpoint(folder, "validation-digest")
    best.update(str(folder / "model.ckpt-30"), 30, 1.0)
    assert BestCheckpoint(folder, "other-validation-windows").checkpoint is None


def test_pruning_counts_the_checkpoints_of_earlier_runs_and_spares_best_and_later_ones(tmp_path):
    folder = tmp_path / "checkpoints"
    for step in (10, 20, 30, 40, 50, 60, 70):
        fake_checkpoint(folder, step, "f")
        (folder / f"model.ckpt-{step}.data-00000-of-00001").write_text("")
    (folder / "best").mkdir()
    (folder / "best/model.ckpt-10.index").write_text("")
    kept = prune_checkpoints(folder, keep=3, resume_step=60)
    assert kept == [str(folder / f"model.ckpt-{step}") for step in (40, 50, 60)]
    assert sorted(p.name for p in folder.glob("model.ckpt-*")) == sorted(
        f"model.ckpt-{step}.{part}" for step in (40, 50, 60, 70) for part in ("index", "data-00000-of-00001")
    ), "70, saved after the state file's newest, is left for the resumed run to save again"
    assert (folder / "best/model.ckpt-10.index").exists()


def trained_folder(folder, windows_file, step, variant=VARIANT, init_source=None):
    """A checkpoint folder as the training job leaves it, without training (its stored settings)."""
    from beatvae.settings import WINDOWS_FILE_KEY, file_sha256, settings_parts

    parts = {**settings_parts(variant, DRUMS), "training_windows": "digest"}
    if init_source:
        parts["init_from"] = init_source
    fake_checkpoint(folder, step, "f", parts)
    stored = json.loads((folder / "fingerprint.json").read_text())
    (folder / "fingerprint.json").write_text(json.dumps({**stored, WINDOWS_FILE_KEY: file_sha256(windows_file)}))


def test_planning_refuses_fewer_steps_only_for_checkpoints_the_job_would_resume(tmp_path):
    from beatvae.settings import check_trained_steps

    random_windows().save(tmp_path / "train.npz")
    folder = tmp_path / "checkpoints"
    trained_folder(folder, tmp_path / "train.npz", 100)
    fewer = changed("training", "num_steps", 50)
    with pytest.raises(SettingsError, match=r"variants.v2.training.num_steps is 50, .* checkpoint at step 100"):
        check_trained_steps("v2", fewer, DRUMS, folder, tmp_path / "train.npz", None)
    check_trained_steps("v2", changed("training", "num_steps", 100), DRUMS, folder, tmp_path / "train.npz", None)
    # Anything that starts the job over: other settings, other windows, another init_from source.
    other = copy.deepcopy(fewer)
    other["hparams"]["z_size"] = 8
    check_trained_steps("v2", other, DRUMS, folder, tmp_path / "train.npz", None)
    random_windows(seed=1).save(tmp_path / "other.npz")
    check_trained_steps("v2", fewer, DRUMS, folder, tmp_path / "other.npz", None)
    source = tmp_path / "source-model"
    source.mkdir()
    (source / "training.json").write_text(json.dumps({"fingerprint": "s1"}))
    (source / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-7"\n')
    check_trained_steps("v2", fewer, DRUMS, folder, tmp_path / "train.npz", source)
    trained_folder(folder, tmp_path / "train.npz", 100, init_source="s1/model.ckpt-7")
    with pytest.raises(SettingsError, match="variants.v2.training.num_steps is 50"):
        check_trained_steps("v2", fewer, DRUMS, folder, tmp_path / "train.npz", source)
    check_trained_steps("v2", fewer, DRUMS, tmp_path / "never-trained", tmp_path / "train.npz", None)


SHAPE_CHANGES = [
    ("hparams", "z_size", 8, DRUMS),
    ("hparams", "residual_decoder", True, DRUMS),
    ("model", "level_lengths", [16, 4], DRUMS),
    ("model", "disable_autoregression", True, DRUMS),
    ("hparams", "learning_rate", 0.1, DRUMS),
    ("model", "level_lengths", [4, 16], dict(DRUMS, roll_input=False)),
]


@pytest.mark.slow
@pytest.mark.parametrize("section, key, value, representation", SHAPE_CHANGES, ids=[c[1] for c in SHAPE_CHANGES])
def test_model_shape_names_exactly_the_settings_that_change_the_weights_shapes(section, key, value, representation):
    """settings.model_shape (what planning compares for init_from) against the graph Magenta builds."""
    from beatvae import magenta_env
    from beatvae.settings import model_shape

    tf = magenta_env.tensorflow_v1()

    def weight_shapes(variant, representation):
        graph = tf.Graph()
        with graph.as_default():
            config = build_config(variant, representation)
            config.model.build(config.hparams, config.data_converter.output_depth, is_training=True)
            depth, batch = config.data_converter, config.hparams.batch_size
            zeros = tf.zeros([batch, 64, depth.input_depth]), tf.zeros([batch, 64, depth.output_depth])
            config.model.train(*zeros, tf.fill([batch], 64))
            return {v.op.name: v.shape.as_list() for v in tf.trainable_variables()}

    other = changed(section, key, value)
    graphs_differ = weight_shapes(VARIANT, DRUMS) != weight_shapes(other, representation)
    assert (model_shape(VARIANT, DRUMS) != model_shape(other, representation)) == graphs_differ


def _drum_sequence():
    import note_seq

    sequence = note_seq.NoteSequence(id="groove/test", ticks_per_quarter=220)
    sequence.tempos.add(qpm=120)
    for start, pitch, velocity in ((0.0, 36, 20), (0.5, 38, 100), (0.75, 38, 20), (1.0, 40, 29), (1.25, 42, 10)):
        sequence.notes.add(pitch=pitch, velocity=velocity, start_time=start, end_time=start + 0.1, is_drum=True)
    sequence.total_time = 1.35
    return sequence


def test_ghost_notes_are_the_snare_hits_below_the_velocity_and_only_they_go():
    from beatvae.dataset import without_ghost_notes

    sequence = _drum_sequence()
    kept = without_ghost_notes(sequence, 30)
    assert [(n.pitch, n.velocity) for n in kept.notes] == [(36, 20), (38, 100), (42, 10)], "kick and hat stay, soft"
    assert kept.id == sequence.id and kept.tempos == sequence.tempos
    assert len(sequence.notes) == 5, "the original is left alone"
    assert without_ghost_notes(sequence, 0) is sequence


def test_dropping_ghost_notes_retrains_through_the_windows_digest_not_the_representations():
    from beatvae.settings import settings_parts

    # DRUMS is a representation as checkpoint folders trained before the setting existed hashed it.
    parts = settings_parts(VARIANT, DRUMS)
    assert parts["converter"] == settings_digest(DRUMS)
    assert settings_parts(VARIANT, {**DRUMS, "drop_training_ghost_notes_below": 0}) == parts, "existing models stay"
    assert settings_parts(VARIANT, {**DRUMS, "drop_training_ghost_notes_below": 30}) == parts
    assert settings_parts(VARIANT, {**DRUMS, "slice_bars": 2})["converter"] != parts["converter"]


@pytest.mark.tensorflow
def test_only_the_training_split_loses_its_ghost_notes(tmp_path):
    from beatvae.dataset import split_sequences, write_records

    path = tmp_path / "split.tfrecord"
    write_records([_drum_sequence().SerializeToString()], path)
    representation = {"converter": "DrumsConverter", "drop_training_ghost_notes_below": 30}
    assert [len(s.notes) for s in split_sequences(path, "train", representation)] == [3]
    for split in ("validation", "test"):
        assert [len(s.notes) for s in split_sequences(path, split, representation)] == [5], split
    assert [len(s.notes) for s in split_sequences(path, "train", {"converter": "DrumsConverter"})] == [5]
