"""Fast unit tests of small helpers (no training): per-rule logs, the loss report, latent slerp.

What imports TensorFlow (beatvae.generation) is imported inside its tests, so collecting this
module stays light.
"""

import logging
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture
def root_logging():
    """redirect_to_log reconfigures the root logger (as a Snakemake job wants); undo that after the test."""
    handlers, level = logging.root.handlers[:], logging.root.level
    yield
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


def test_redirect_to_log_captures_python_native_and_child_output(tmp_path, capfd, root_logging):
    from beatvae.logs import redirect_to_log

    path = tmp_path / "logs" / "train" / "v1.log"  # folders are created
    # capfd.disabled(): pytest's capture replaces sys.stdout; a Snakemake job has the real one.
    with capfd.disabled(), redirect_to_log(path):
        print("from print")
        os.write(1, b"from file descriptor 1\n")
        os.write(2, b"from file descriptor 2\n")
        subprocess.run(["echo", "from a child process"], check=True)
        logging.getLogger("beatvae.test").info("from logging")
    os.write(1, b"after the block\n")

    text = path.read_text()
    for line in ("from print", "from file descriptor 1", "from file descriptor 2", "from a child process"):
        assert line in text
    assert "INFO beatvae.test: from logging" in text
    assert "after the block" not in text
    assert "after the block" in capfd.readouterr().out  # file descriptor 1 is restored


def test_redirect_to_log_writes_the_traceback_of_a_failure_and_reraises(tmp_path, capfd, root_logging):
    from beatvae.logs import redirect_to_log

    path = tmp_path / "job.log"
    with capfd.disabled(), pytest.raises(RuntimeError, match="window 7 is empty"), redirect_to_log(path):
        print("before the failure")
        raise RuntimeError("window 7 is empty")

    text = path.read_text()
    assert "before the failure" in text
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: window 7 is empty" in text


SCALARS_CSV = """\
step,loss,r_loss,kl_loss,kl_bits,accuracy,beta,sampling_probability,learning_rate,global_norm,examples_per_second
20,4.0,3.5,0.5,1.2,0.60,0.02,0.0,0.001,3.0,900
10,6.0,5.0,1.0,2.4,0.40,0.01,0.0,0.001,5.0,800
30,3.0,2.8,0.2,0.9,0.70,0.03,0.1,0.0009,2.0,950
"""


def test_loss_table_renames_reorders_and_drops_throughput_columns(tmp_path):
    from beatvae.losses import REPORT_COLUMNS, loss_table
    from beatvae.settings import decoder_columns

    scalars = tmp_path / "scalars.csv"
    scalars.write_text(SCALARS_CSV)
    table = loss_table(scalars)

    # a drum-class model's table: every report column but the groove decoder's
    groove_only = decoder_columns("GrooveLstmDecoder")
    assert groove_only == [
        "hits_loss", "velocities_loss", "offsets_loss",
        "validation_hits_loss", "validation_velocities_loss", "validation_offsets_loss",
    ]  # fmt: skip
    assert list(table.columns) == [c for c in REPORT_COLUMNS.values() if c not in groove_only]
    assert list(table.columns) == [
        "step", "loss", "reconstruction_loss", "kl_loss", "kl_bits", "accuracy", "beta", "sampling_probability",
        "learning_rate", "validation_loss", "validation_reconstruction_loss", "validation_kl_bits",
        "validation_accuracy", "validation_free_running_accuracy",
    ]  # fmt: skip
    assert "reconstruction_loss" in table.columns and "r_loss" not in table.columns
    assert "examples_per_second" not in table.columns and "global_norm" not in table.columns
    assert table["step"].tolist() == [10, 20, 30]
    assert table["reconstruction_loss"].tolist() == [5.0, 3.5, 2.8]
    assert table.index.tolist() == [0, 1, 2]


def test_loss_table_names_a_csv_without_logged_steps(tmp_path):
    from beatvae.losses import loss_table

    scalars = tmp_path / "scalars.csv"
    scalars.write_text(SCALARS_CSV.splitlines()[0] + "\n")
    with pytest.raises(ValueError, match="scalars.csv has no logged steps"):
        loss_table(scalars)


def test_plot_losses_writes_a_png_of_the_figure_size(tmp_path):
    from beatvae.losses import loss_table, plot_losses

    scalars = tmp_path / "scalars.csv"
    scalars.write_text(SCALARS_CSV)
    png = tmp_path / "losses.png"
    plot_losses(loss_table(scalars), png, "v1-small")

    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (1100, 700)


def unit(vector):
    vector = np.asarray(vector, np.float64)
    return vector / np.linalg.norm(vector)


def test_slerp_starts_and_ends_at_the_endpoints():
    from beatvae.generation import slerp

    rng = np.random.default_rng(0)
    first, last = rng.normal(size=16), rng.normal(size=16)
    path = slerp(first, last, [0.0, 1.0])

    assert path.dtype == np.float32 and path.shape == (2, 16)
    np.testing.assert_allclose(path[0], first, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(path[1], last, rtol=1e-5, atol=1e-6)


def test_slerp_between_unit_vectors_stays_on_the_sphere_at_even_angles():
    from beatvae.generation import slerp

    rng = np.random.default_rng(1)
    first, last = unit(rng.normal(size=32)), unit(rng.normal(size=32))
    fractions = np.linspace(0, 1, 9)
    path = slerp(first, last, fractions).astype(np.float64)

    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-5)
    omega = np.arccos(np.dot(first, last))
    angles = np.arccos(np.clip(path @ first, -1, 1))
    np.testing.assert_allclose(angles, fractions * omega, atol=1e-3)
    # A straight line between them would cut inside the sphere instead.
    assert np.linalg.norm((first + last) / 2) < 0.99


def test_slerp_of_parallel_vectors_falls_back_to_a_straight_line():
    from beatvae.generation import slerp

    first = unit(np.arange(1, 9))
    last = 3 * first  # same direction: the spherical formula would divide by sin(0)
    fractions = [0.0, 0.25, 0.5, 1.0]
    path = slerp(first, last, fractions)

    assert np.isfinite(path).all()
    expected = [(1 - t) * first + t * last for t in fractions]
    np.testing.assert_allclose(path, expected, rtol=1e-6)


@pytest.mark.tensorflow
def test_any_beatvae_module_gets_legacy_keras_before_tensorflow_loads():
    """Import sorting puts `magenta` before `beatvae` imports: the package itself must set the switch."""
    probe = (
        "import os, sys; import beatvae.model; import tf_keras, tensorflow as tf; "
        "print(os.environ['TF_USE_LEGACY_KERAS'], tf.keras.__name__.split('.')[0])"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "tf_keras"], result.stdout


def test_readme_names_the_default_sample_folder_the_default_config_writes():
    from pathlib import Path

    import yaml

    from beatvae.settings import sampling_tag

    repo = Path(__file__).resolve().parents[1]
    generation = yaml.safe_load((repo / "config/config.yaml").read_text())["generation"]
    readme = (repo / "README.md").read_text()
    named_defaults = set(re.findall(r"default `(temp[0-9.]+-seed\d+)`", readme))
    assert named_defaults == {sampling_tag(generation["temperature"], generation["seed"])}


def test_the_closing_lines_say_which_variant_a_time_limit_cut_short(tmp_path):
    import json
    import time

    from beatvae.run_summary import closing_lines

    started = time.time() - 1
    for variant, stopped, steps in (("v2", True, 1_234), ("groove", False, 2_400)):
        (tmp_path / variant).mkdir()
        summary = {
            "steps": steps,
            "steps_this_run": steps,
            "train_seconds_this_run": 600.0,
            "stopped_at_time_limit": stopped,
            "variant": {"training": {"max_minutes": 10.0}},
        }
        (tmp_path / variant / "training.json").write_text(json.dumps(summary))
    lines = closing_lines(started, ["v2", "groove"], models=str(tmp_path))
    cut_short = ", stopped at its time limit (10 min) at step 1,234"
    assert lines[2] == "  v2: 1,234 steps in 10m 00s, 2.06 steps/s (validation included)" + cut_short
    assert lines[3] == "  groove: 2,400 steps in 10m 00s, 4.00 steps/s (validation included)"


def test_training_windows_description_names_the_ghost_note_velocity_or_says_nothing():
    from beatvae.settings import training_windows_description

    assert "snare hits below velocity 45" in training_windows_description({"drop_training_ghost_notes_below": 45})
    assert "held-out beats as played" in training_windows_description({"drop_training_ghost_notes_below": 45})
    assert training_windows_description({"drop_training_ghost_notes_below": 0}) == ""
    assert training_windows_description({"converter": "DrumsConverter"}) == ""
