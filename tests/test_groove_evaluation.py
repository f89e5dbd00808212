"""Groove (GrooVAE humanize) evaluation on the real GMD sample: the metrics and baselines on real
windows, a model trained for the test against the baselines, and the rules through Snakemake.
The metrics on hand-made grooves, without TensorFlow: tests/test_groove_metrics.py."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from beatvae.dataset import Windows
from beatvae.groove_metrics import (
    HITS,
    OFFSETS,
    VELOCITIES,
    constant_groove,
    groove_distributions,
    groove_errors,
    groove_scores,
    groove_step_milliseconds,
    groove_targets,
    hit_scores,
    position_groove,
    position_means,
)
from conftest import GROOVE, REPO, output_of, run_snakemake

STEPS_PER_BAR = 16
SNARE = 1


@pytest.fixture(scope="module")
def windows(data_half):
    """Groove windows of every 4/4 performance of the sample, through the real data stages."""
    made = data_half("all", {"time_signature": "4-4"}, GROOVE)
    loaded = {split: Windows.load(path) for split, path in made["windows"].items()}
    for split, windows in loaded.items():
        assert len(windows), split
    return loaded


def grooves(windows):
    return windows.labels.astype(np.float32), groove_step_milliseconds(windows.qpm, GROOVE["steps_per_quarter"])


@pytest.mark.tensorflow
def test_hit_scores_of_the_real_hits_and_of_silence(windows):
    real, _ = grooves(windows["validation"])
    hits = real[..., HITS]
    perfect = hit_scores(hits, hits)
    assert perfect["cell_accuracy"] == perfect["precision"] == perfect["recall"] == perfect["f1"] == 1.0
    silent = hit_scores(hits, np.zeros_like(hits))
    share = hits.mean()
    assert 0 < share < 0.5  # most cells are empty: accuracy alone would flatter silence
    assert silent["cell_accuracy"] == pytest.approx(1 - share)
    assert silent["recall"] == 0 and silent["f1"] == 0 and silent["precision"] is None
    assert silent["real_hits"] == int(hits.sum())


@pytest.mark.tensorflow
def test_what_the_drummer_played_has_no_error_and_velocity_is_in_midi_units(windows):
    real, step_ms = grooves(windows["validation"])
    assert groove_errors(real, real, step_ms) == {"velocity_mae": 0.0, "timing_mae_ms": 0.0}
    louder = real.copy()
    louder[..., VELOCITIES] += 10 / 127 * real[..., HITS]
    assert groove_errors(real, louder, step_ms)["velocity_mae"] == pytest.approx(10, rel=1e-3)
    late = real.copy()
    late[..., OFFSETS] -= 0.2 * real[..., HITS]  # a tenth of a step later on every hit
    expected = float(np.mean(np.broadcast_to(step_ms, real[..., HITS].shape)[real[..., HITS] > 0.5])) / 10
    assert groove_errors(real, late, step_ms)["timing_mae_ms"] == pytest.approx(expected, rel=1e-3)


@pytest.mark.tensorflow
def test_position_means_are_each_class_and_bar_steps_training_mean(windows):
    train, _ = grooves(windows["train"])
    means = position_means(train, STEPS_PER_BAR)
    # The snare on beat 2 (step 4 of the bar) of every bar of every window, read directly.
    on_beat_two = train[:, 4::STEPS_PER_BAR, :]
    hit = on_beat_two[..., HITS][..., SNARE] > 0.5
    assert hit.sum() == means.hits[4, SNARE] > 100
    assert means.velocity[4, SNARE] == pytest.approx(on_beat_two[..., VELOCITIES][..., SNARE][hit].mean(), rel=1e-4)
    assert means.offset[4, SNARE] == pytest.approx(on_beat_two[..., OFFSETS][..., SNARE][hit].mean(), rel=1e-4)
    # A (step, class) without training hits falls back to the class's mean over all its steps.
    without = train.copy()
    without[:, 3::STEPS_PER_BAR, SNARE] = 0  # no snare hit on step 3 of any bar
    fallback = position_means(without, STEPS_PER_BAR)
    snare_hits = without[..., HITS][..., SNARE] > 0.5
    assert fallback.hits[3, SNARE] == 0
    assert fallback.velocity[3, SNARE] == pytest.approx(
        without[..., VELOCITIES][..., SNARE][snare_hits].mean(), rel=1e-4
    )


@pytest.mark.tensorflow
def test_position_baseline_beats_the_constant_one_on_its_own_training_windows(windows):
    train, step_ms = grooves(windows["train"])
    hits = train[..., HITS] > 0.5
    mean_velocity = float(train[..., VELOCITIES][hits].mean())
    constant = groove_scores(train, constant_groove(train, mean_velocity), step_ms)
    position = groove_scores(train, position_groove(train, position_means(train, STEPS_PER_BAR)), step_ms)
    # Both keep the drummer's hits exactly; only velocity and timing differ.
    assert constant["hits"]["f1"] == position["hits"]["f1"] == 1.0
    assert position["velocity_mae"] < constant["velocity_mae"]
    assert position["timing_mae_ms"] < constant["timing_mae_ms"]
    targets = groove_targets({"model": position, "constant": constant, "position_mean": position})
    assert targets["velocity_mae_below_constant"]["met"] and targets["timing_mae_ms_below_constant"]["met"]
    assert targets["velocity_mae_below_position_mean"]["met"] is False  # equal is not below
    assert targets["all_met"] is False


@pytest.mark.tensorflow
def test_distributions_per_class_of_real_and_model_velocities_and_timing(windows):
    real, step_ms = grooves(windows["validation"])
    stats = groove_distributions(real, constant_groove(real, 0.5), step_ms)
    snare = stats["snare"]
    hit = real[..., HITS][..., SNARE] > 0.5
    assert snare["hits"] == hit.sum() > 0
    assert snare["real"]["velocity_mean"] == pytest.approx(
        real[..., VELOCITIES][..., SNARE][hit].mean() * 127, rel=1e-4
    )
    assert snare["real"]["velocity_std"] > 5 and snare["real"]["timing_ms_std"] > 1  # drummers vary
    assert snare["model"] == {"velocity_mean": 63.5, "velocity_std": 0.0, "timing_ms_mean": 0.0, "timing_ms_std": 0.0}
    assert set(stats) >= {"kick", "snare", "closed_hihat", "ride"}


# A groove variant trained for the test through the workflow: a few hundred steps of a tiny model
# (about 40 s on one core; at 300 steps and learning rate 0.005 it is still worse than constant velocity).
WORKFLOW_CONFIG = {
    "gmd": {
        "url": "data/gmd-sample/groove-v1.0.0-midionly-sample.zip",
        "sha256": "977df331cbece8769e65ae5400276e029416b33045dd6aa3d5c4e804d0005861",
    },
    "representations": {
        "groove": {key: GROOVE[key] for key in ("converter", "split_bars", "hop_size", "humanize", "hits_as_controls")}
    },
    "subsets": {"all": {"filters": {"time_signature": "4-4"}}},
    "variants": {
        "groove-tiny": {
            "subset": "all",
            "representation": "groove",
            "model": {"level_lengths": None},
            "hparams": {
                "batch_size": 32,
                "z_size": 16,
                "enc_rnn_size": [32],
                "dec_rnn_size": [32, 32],
                "sampling_schedule": "constant",
                "sampling_rate": 0.0,
                "learning_rate": 0.01,
            },
            "training": {
                "num_steps": 500,
                "checkpoint_every_steps": 250,
                "log_every_steps": 50,
                "validate_every_steps": 500,
            },
            "resources": {"threads": 1, "mem_mb": 2000, "runtime_min": 20},
        }
    },
}
TARGET = "results/eval/groove.tsv"


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """The groove table made by Snakemake from the sample: data stages, training, evaluation."""
    workdir = tmp_path_factory.mktemp("groove-workflow")
    configfile = workdir / "groove.yaml"
    configfile.write_text(yaml.safe_dump(WORKFLOW_CONFIG))
    result = run_snakemake(workdir, TARGET, configfile=configfile, cores=1)
    assert result.returncode == 0, output_of(result)
    return {"workdir": workdir, "configfile": configfile, "output": result.stdout + result.stderr}


@pytest.mark.slow
def test_a_trained_groove_model_beats_the_constant_baseline_on_velocity(workflow):
    report = json.loads((workflow["workdir"] / "results/eval/groove/groove-tiny.json").read_text())
    assert set(report["splits"]) == {"validation", "test"}
    held_out = report["held_out"]
    assert held_out["windows"] == sum(split["windows"] for split in report["splits"].values())
    assert held_out["model"]["velocity_mae"] < held_out["constant"]["velocity_mae"]
    assert report["targets"]["velocity_mae_below_constant"]["met"] is True
    assert set(report["targets"]) == {
        "velocity_mae_below_constant",
        "velocity_mae_below_position_mean",
        "timing_mae_ms_below_constant",
        "timing_mae_ms_below_position_mean",
        "all_met",
    }
    # The hits are given to the decoder: it plays them back (the model's own hits are sampled).
    assert held_out["model"]["hits"]["f1"] > 0.5
    assert held_out["distributions"]["kick"]["model"]["velocity_std"] > 0  # not one velocity for every kick
    assert report["temperature"] == 0.5  # evaluation.groove_temperature's default


@pytest.mark.slow
def test_the_groove_table_has_a_row_per_groove_variant_and_reaches_the_page(workflow):
    from beatvae.report_page import groove_section

    table = pd.read_csv(workflow["workdir"] / TARGET, sep="\t")
    assert table["variant"].tolist() == ["groove-tiny"]
    for column in ("velocity_mae_model", "velocity_mae_constant", "velocity_mae_position_mean", "timing_mae_ms_model",
                   "timing_mae_ms_constant", "timing_mae_ms_position_mean", "hit_f1", "targets_met"):  # fmt: skip
        assert column in table.columns
    assert table.loc[0, "target_velocity_mae_below_constant"] == "met"
    section = groove_section(workflow["workdir"] / TARGET)
    assert section.startswith('<section id="groove">') and "groove-tiny" in section
    assert groove_section(None) == ""


@pytest.mark.slow
def test_groove_temperature_reruns_the_groove_evaluation_only(workflow):
    result = run_snakemake(
        workflow["workdir"], TARGET, "-n", "--config", "evaluation={groove_temperature: 0.3}",
        configfile=workflow["configfile"], cores=1,
    )  # fmt: skip
    assert result.returncode == 0, output_of(result)
    planned = result.stdout
    assert "rule evaluate_groove:" in planned and "rule compare_grooves:" in planned
    assert "rule train_model:" not in planned and "rule tensorize:" not in planned


@pytest.mark.snakemake
def test_each_kind_of_variant_has_only_its_own_evaluation(tmp_path):
    """evaluate_groove takes groove variants only, evaluate_model beat variants only: a file name of
    the other kind names no rule (rather than a job that fails on the wrong model)."""
    beats = tmp_path / "beats"
    beats.mkdir()
    (beats / "smoke.yaml").write_text((REPO / "tests/config/smoke.yaml").read_text())
    grooves = tmp_path / "grooves"
    grooves.mkdir()
    (grooves / "groove.yaml").write_text(yaml.safe_dump(WORKFLOW_CONFIG))
    for workdir, config, target in (
        (beats, "smoke.yaml", "results/eval/groove/tiny.json"),
        (grooves, "groove.yaml", "results/eval/groove-tiny.json"),
    ):
        result = run_snakemake(workdir, target, "-n", configfile=workdir / config, cores=1)
        assert result.returncode != 0, output_of(result)
        assert "MissingRuleException" in result.stdout + result.stderr, output_of(result)
