"""Groove metrics (beatvae.groove_metrics) on hand-made grooves: no TensorFlow, no data stages.
The same metrics on real windows of the GMD sample, and a trained model: tests/test_groove_evaluation.py."""

import subprocess
import sys

import numpy as np
import pytest

from beatvae.groove_metrics import (
    HITS,
    OFFSETS,
    VELOCITIES,
    constant_groove,
    groove_baselines,
    groove_distributions,
    groove_errors,
    groove_split_report,
    groove_step_milliseconds,
    groove_targets,
    hit_scores,
    position_groove,
    position_means,
    timing_milliseconds,
)

STEPS_PER_BAR = 16
KICK, SNARE = 0, 1


def groove(hits, velocity=0.5, offset=0.0, bars=2) -> np.ndarray:
    """float32 [1, bars * 16, 27]: `hits` {class: steps within each bar} at one velocity and offset."""
    window = np.zeros((1, bars * STEPS_PER_BAR, 27), np.float32)
    for drum_class, steps in hits.items():
        for bar in range(bars):
            for step in steps:
                cell = (0, bar * STEPS_PER_BAR + step)
                window[cell][HITS][drum_class] = 1
                window[cell][VELOCITIES][drum_class] = velocity
                window[cell][OFFSETS][drum_class] = offset
    return window


ROCK = {KICK: [0, 8], SNARE: [4, 12]}


def test_a_step_offset_is_milliseconds_at_the_windows_tempo():
    step_ms = groove_step_milliseconds(np.array([120.0, 60.0]), 4)
    assert step_ms.ravel().tolist() == [125.0, 250.0]
    # GrooveConverter's offset 1 = half a step early; -1 = half a step late.
    assert timing_milliseconds(np.array([1.0, -1.0]), step_ms.ravel()).tolist() == [-62.5, 125.0]


def test_hit_scores_count_missed_and_extra_hits():
    real = groove(ROCK)[..., HITS]
    assert hit_scores(real, real) == {
        "cell_accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0, "real_hits": 8, "predicted_hits": 8
    }  # fmt: skip
    kicks_only = groove({KICK: [0, 8]})[..., HITS]
    scores = hit_scores(real, kicks_only)
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5 and scores["f1"] == pytest.approx(2 / 3)
    assert scores["cell_accuracy"] == pytest.approx(1 - 4 / real.size)
    silent = hit_scores(real, np.zeros_like(real))
    assert silent["precision"] is None and silent["recall"] == 0 and silent["f1"] == 0
    assert hit_scores(np.zeros_like(real), np.zeros_like(real))["f1"] is None


def test_errors_are_in_midi_units_and_milliseconds_on_the_real_hits_only():
    real = groove(ROCK, velocity=0.5)
    step_ms = groove_step_milliseconds([120.0], 4)
    assert groove_errors(real, real, step_ms) == {"velocity_mae": 0.0, "timing_mae_ms": 0.0}
    louder_and_late = groove(ROCK, velocity=0.5 + 10 / 127, offset=-0.2)  # a tenth of a step late
    louder_and_late[0, 2][HITS][KICK] = 1  # an extra hit the drummer did not play is not judged
    louder_and_late[0, 2][VELOCITIES][KICK] = 1.0
    errors = groove_errors(real, louder_and_late, step_ms)
    assert errors["velocity_mae"] == pytest.approx(10, rel=1e-5)
    assert errors["timing_mae_ms"] == pytest.approx(12.5, rel=1e-5)
    assert groove_errors(np.zeros_like(real), real, step_ms) == {"velocity_mae": None, "timing_mae_ms": None}


def test_position_means_fall_back_to_the_class_mean_then_to_all_hits():
    train = np.concatenate([groove(ROCK, velocity=0.4), groove({KICK: [0], SNARE: [4]}, velocity=0.8, offset=0.1)])
    means = position_means(train, STEPS_PER_BAR)
    assert means.hits[0, KICK] == 4 and means.hits[8, KICK] == 2 and means.hits[3, SNARE] == 0
    assert means.velocity[0, KICK] == pytest.approx(0.6) and means.velocity[8, KICK] == pytest.approx(0.4)
    assert means.offset[4, SNARE] == pytest.approx(0.05)
    # Step 3 never has a snare: the snare's mean over all its steps; the crash is never hit: all hits' mean.
    assert means.velocity[3, SNARE] == pytest.approx((4 * 0.4 + 2 * 0.8) / 6)
    assert means.velocity[0, 7] == pytest.approx(train[..., VELOCITIES][train[..., HITS] > 0.5].mean())
    with pytest.raises(ValueError, match="not whole bars"):
        position_means(train[:, :24], STEPS_PER_BAR)
    with pytest.raises(ValueError, match="no hits"):
        position_means(np.zeros_like(train), STEPS_PER_BAR)


def test_both_baselines_keep_the_hits_and_play_them_their_own_way():
    train = np.concatenate([groove(ROCK, velocity=0.4), groove(ROCK, velocity=0.6, offset=0.2)])
    baselines = groove_baselines(train, STEPS_PER_BAR)
    assert baselines.velocity == pytest.approx(0.5)
    real = groove(ROCK, velocity=0.3, offset=-0.4)
    constant = constant_groove(real, baselines.velocity)
    position = position_groove(real, baselines.means)
    for played in (constant, position):
        np.testing.assert_array_equal(played[..., HITS], real[..., HITS])
    assert set(np.unique(constant[..., VELOCITIES])) == {0.0, 0.5} and not constant[..., OFFSETS].any()
    np.testing.assert_allclose(position[..., OFFSETS][real[..., HITS] > 0.5], 0.1)


def test_targets_are_met_only_below_each_baseline():
    scores = {
        "model": {"velocity_mae": 10.0, "timing_mae_ms": 20.0},
        "constant": {"velocity_mae": 12.0, "timing_mae_ms": 25.0},
        "position_mean": {"velocity_mae": 10.0, "timing_mae_ms": None},
    }
    targets = groove_targets(scores)
    assert targets["velocity_mae_below_constant"] == {"value": 10.0, "threshold": 12.0, "met": True}
    assert targets["velocity_mae_below_position_mean"]["met"] is False  # equal is not below
    assert targets["timing_mae_ms_below_position_mean"]["met"] is None
    assert targets["all_met"] is False


def test_a_split_report_scores_the_model_beside_both_baselines_and_per_class():
    train = groove(ROCK, velocity=0.5)
    real = groove(ROCK, velocity=0.5, offset=0.2)
    report = groove_split_report(real, real, groove_step_milliseconds([120.0], 4), groove_baselines(train, 16))
    assert list(report) == ["windows", "model", "constant", "position_mean", "distributions"]
    assert report["model"]["velocity_mae"] == 0.0 and report["constant"]["timing_mae_ms"] == pytest.approx(12.5)
    snare = report["distributions"]["snare"]
    assert snare["hits"] == 4 and snare["real"] == snare["model"]
    assert snare["real"]["timing_ms_mean"] == pytest.approx(-12.5)  # played early
    assert report["distributions"]["ride"] == {"hits": 0, "real": None, "model": None}
    assert groove_distributions(real, real, 125.0)["kick"]["real"]["velocity_mean"] == pytest.approx(63.5)


def test_groove_metrics_need_no_tensorflow():
    code = "import sys, beatvae.groove_metrics, beatvae.targets, beatvae.comparison; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
