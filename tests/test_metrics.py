import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from beatvae.metrics import (
    DRUM_CLASS_NAMES,
    FEATURE_NAMES,
    as_drum_rolls,
    distribution_distance,
    lhl_syncopation,
    metrical_weights,
    nearest_training_windows,
    real_baseline,
    roll_from_note_sequence,
    sample_statistics,
    wasserstein_1d,
    window_features,
)
from beatvae.schema import schema_defaults
from beatvae.targets import TARGET_NAMES, quality_targets

GMD_SAMPLE_ZIP = Path(__file__).resolve().parents[1] / "data/gmd-sample/groove-v1.0.0-midionly-sample.zip"
KICK, SNARE, CLOSED_HAT, RIDE = 0, 1, 2, 8


def empty_roll(bars=4, windows=None):
    shape = (bars * 16, len(DRUM_CLASS_NAMES))
    return np.zeros(shape if windows is None else (windows, *shape), dtype=bool)


def four_on_the_floor(bars=4):
    roll = empty_roll(bars)
    roll[::4, KICK] = True
    return roll


def random_rolls(count, density, seed):
    rng = np.random.default_rng(seed)
    return rng.random((count, 64, len(DRUM_CLASS_NAMES))) < density


@pytest.mark.parametrize("module", ["beatvae.metrics", "beatvae.realism"])
def test_metrics_import_without_tensorflow(module):
    probe = f"import sys, {module}; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_drum_classes_follow_magenta_reduced_order():
    from note_seq.drums_encoder_decoder import DEFAULT_DRUM_TYPE_PITCHES

    assert len(DRUM_CLASS_NAMES) == len(DEFAULT_DRUM_TYPE_PITCHES) == 9
    # Spot-check the order against General MIDI: kick 36, snare 38, closed hat 42, ride 51.
    for name, gm_pitch in [
        ("kick", 36),
        ("snare", 38),
        ("closed_hihat", 42),
        ("open_hihat", 46),
        ("low_tom", 45),
        ("mid_tom", 48),
        ("high_tom", 50),
        ("crash", 49),
        ("ride", 51),
    ]:
        assert gm_pitch in DEFAULT_DRUM_TYPE_PITCHES[DRUM_CLASS_NAMES.index(name)]


def test_four_on_the_floor_features():
    features = window_features(four_on_the_floor(bars=4))
    assert list(features.columns) == list(FEATURE_NAMES)
    row = features.iloc[0]
    assert row["kick_per_bar"] == 4.0
    for name in DRUM_CLASS_NAMES[1:]:
        assert row[f"{name}_per_bar"] == 0.0
    assert row["notes_per_bar"] == 4.0
    assert row["beat_share"] == 1.0
    assert row["backbeat_share"] == 0.5
    assert row["syncopation_per_bar"] == 0.0


def test_rock_beat_features():
    roll = empty_roll(bars=2)
    roll[0::16, KICK] = True  # beat 1
    roll[10::16, KICK] = True  # the "and" of beat 3
    roll[4::8, SNARE] = True  # beats 2 and 4
    roll[0::2, CLOSED_HAT] = True  # every 8th
    row = window_features(roll).iloc[0]
    assert (row["kick_per_bar"], row["snare_per_bar"], row["closed_hihat_per_bar"]) == (
        2.0,
        2.0,
        8.0,
    )
    assert row["notes_per_bar"] == 12.0
    # Per bar 7 of the 12 hits fall on beats (2 + 2 + 1 + 2), 4 of them on beats 2 and 4.
    assert row["beat_share"] == pytest.approx(7 / 12)
    assert row["backbeat_share"] == pytest.approx(4 / 12)
    # Straight 8ths leave only 16th-note rests, never stronger than a preceding hit.
    assert row["syncopation_per_bar"] == 0.0


def test_metrical_weights_of_a_16th_note_bar():
    quarter = [-4, -3, -4]  # 16th, 8th, 16th after each quarter-note beat
    assert metrical_weights(16).tolist() == [0, *quarter, -2, *quarter, -1, *quarter, -2, *quarter]
    assert metrical_weights(8).tolist() == [0, -3, -2, -3, -1, -3, -2, -3]
    with pytest.raises(ValueError):
        metrical_weights(12)


def test_offbeat_eighths_are_syncopated():
    roll = empty_roll(bars=4)
    roll[2::4, CLOSED_HAT] = True  # the "and" of every beat
    row = window_features(roll).iloc[0]
    assert row["beat_share"] == 0.0
    assert row["backbeat_share"] == 0.0
    # Per bar, the rest after the "and" of beat 1, 2, 3, 4 falls on beat 2 (+1), beat 3 (+2),
    # beat 4 (+1), the next downbeat (+3): 7 in bars 1-3; the last bar has no next downbeat: 4.
    assert row["syncopation_per_bar"] == pytest.approx((7 * 3 + 4) / 4)


def test_single_sixteenth_before_silence_scores_against_the_half_bar():
    onsets = np.zeros((1, 16), dtype=bool)
    onsets[0, 1] = True  # weight -4; the strongest following rest is step 8, weight -1
    assert lhl_syncopation(onsets).tolist() == [3.0]


def test_empty_window_has_zero_rates_and_undefined_shares():
    row = window_features(empty_roll()).iloc[0]
    assert row["notes_per_bar"] == 0.0 and row["syncopation_per_bar"] == 0.0
    assert math.isnan(row["beat_share"]) and math.isnan(row["backbeat_share"])
    # Means skip the undefined shares of empty windows.
    stats = sample_statistics(np.stack([empty_roll(), four_on_the_floor()]))
    assert stats["beat_share"] == 1.0
    assert stats["notes_per_bar"] == 2.0


def test_converter_inputs_with_no_hit_column_give_the_same_features():
    rolls = random_rolls(5, 0.1, seed=1)
    no_hit = ~rolls.any(axis=2, keepdims=True)
    converter_inputs = np.concatenate([rolls, no_hit], axis=2)
    assert as_drum_rolls(converter_inputs).shape == (5, 64, 9)
    assert window_features(converter_inputs).equals(window_features(rolls))


def test_sample_statistics_are_feature_means():
    rolls = np.stack([four_on_the_floor(), four_on_the_floor()])
    rolls[1, 4::16, SNARE] = True  # add a backbeat snare on beat 2 of every bar
    stats = sample_statistics(rolls)
    assert set(stats) == set(FEATURE_NAMES)
    assert stats["kick_per_bar"] == 4.0
    assert stats["snare_per_bar"] == 0.5
    assert stats["notes_per_bar"] == 4.5


def test_wasserstein_known_values():
    assert wasserstein_1d([0, 1], [1, 2]) == pytest.approx(1.0)
    assert wasserstein_1d([0], [0, 2]) == pytest.approx(1.0)
    assert wasserstein_1d([3, 1, 2], [2, 3, 1]) == 0.0


def test_distribution_distance_is_zero_to_itself_and_grows_with_difference():
    real = random_rolls(300, 0.08, seed=2)
    assert distribution_distance(real, real)["overall"] == 0.0

    near = random_rolls(300, 0.08, seed=3)
    denser = random_rolls(300, 0.12, seed=3)
    much_denser = random_rolls(300, 0.25, seed=3)
    distances = [distribution_distance(sample, real)["overall"] for sample in (near, denser, much_denser)]
    assert 0 < distances[0] < distances[1] < distances[2]


def test_distribution_distance_per_feature_points_at_what_differs():
    real = np.stack([four_on_the_floor()] * 10)
    sample = real.copy()
    sample[:, 4::16, SNARE] = True
    result = distribution_distance(sample, real)
    per_feature = result["per_feature"]
    assert set(per_feature) == set(FEATURE_NAMES)
    assert per_feature["kick_per_bar"] == 0.0
    # The real snare rate is constant 0, so the scale falls back to the pooled std.
    assert per_feature["snare_per_bar"] > 0
    assert result["per_feature_raw"]["snare_per_bar"] == pytest.approx(1.0)
    assert result["overall"] == pytest.approx(np.mean(list(per_feature.values())))


def test_nearest_window_of_a_copy_is_itself_at_distance_zero():
    train = random_rolls(5000, 0.1, seed=4)
    samples = train[[17, 4321, 999]]
    nearest = nearest_training_windows(samples, train)
    assert nearest.index.tolist() == [17, 4321, 999]
    assert nearest.distance.tolist() == [0, 0, 0]


@pytest.mark.parametrize("changed_cells", [1, 2, 7])
def test_nearest_window_distance_counts_changed_cells(changed_cells):
    train = random_rolls(5000, 0.1, seed=5)
    sample = train[2500].copy()
    flat = sample.reshape(-1)
    cells = np.random.default_rng(changed_cells).choice(flat.size, changed_cells, replace=False)
    flat[cells] = ~flat[cells]
    index, distance = nearest_training_windows(sample, train)
    assert index.tolist() == [2500]
    assert distance.tolist() == [changed_cells]


def test_nearest_windows_match_brute_force_across_chunks():
    train = random_rolls(700, 0.3, seed=6)
    samples = random_rolls(40, 0.3, seed=7)
    # A tiny memory budget forces many sample and training blocks.
    nearest = nearest_training_windows(samples, train, max_chunk_bytes=4000)
    brute_force = (samples[:, None] != train[None]).sum(axis=(2, 3))
    assert nearest.distance.tolist() == brute_force.min(axis=1).tolist()
    assert nearest.index.tolist() == brute_force.argmin(axis=1).tolist()


def test_nearest_window_ties_go_to_the_lowest_index():
    train = np.stack([empty_roll()] * 3)
    train[0, 0, KICK] = True
    train[2, 0, SNARE] = True
    sample = empty_roll()  # one cell away from windows 0 and 2, zero from window 1
    assert nearest_training_windows(sample, train, max_chunk_bytes=16).index.tolist() == [1]
    train[1, 0, RIDE] = True  # now all three are one cell away
    assert nearest_training_windows(sample, train, max_chunk_bytes=16).index.tolist() == [0]


def test_roll_from_hand_built_note_sequence():
    sequence = music_pb2.NoteSequence(ticks_per_quarter=220, total_time=1.9)
    sequence.tempos.add(qpm=120)  # a 16th note lasts 0.125 s

    def add(pitch, start, velocity=80, is_drum=True):
        sequence.notes.add(
            pitch=pitch,
            start_time=start,
            end_time=start + 0.1,
            velocity=velocity,
            is_drum=is_drum,
            instrument=9 if is_drum else 0,
        )

    add(36, 0.0, velocity=110)  # kick, step 0
    add(40, 0.5, velocity=70)  # electric snare -> snare class, step 4
    add(42, 0.25, velocity=50)  # two closed hats on step 2: the louder one counts
    add(42, 0.26, velocity=90)
    add(51, 1.875, velocity=60)  # ride, step 15
    add(38, 1.0, is_drum=False)  # a piano note with a snare's pitch: ignored
    add(21, 1.0)  # a drum pitch outside the 9 classes: ignored

    roll, velocity = roll_from_note_sequence(sequence)
    assert roll.shape == velocity.shape == (16, 9)  # 1.9 s rounds up to one whole bar
    assert roll.dtype == bool
    hits = {(int(step), int(drum)) for step, drum in zip(*np.nonzero(roll), strict=True)}
    assert hits == {(0, KICK), (4, SNARE), (2, CLOSED_HAT), (15, RIDE)}
    assert velocity[0, KICK] == 110 and velocity[4, SNARE] == 70
    assert velocity[2, CLOSED_HAT] == 90 and velocity[15, RIDE] == 60
    assert velocity[~roll].max() == 0

    cut_roll, cut_velocity = roll_from_note_sequence(sequence, num_steps=8)
    assert cut_roll.shape == (8, 9) and cut_roll.sum() == 3
    padded_roll, _ = roll_from_note_sequence(sequence, num_steps=64)
    assert padded_roll.shape == (64, 9) and padded_roll.sum() == 4


@pytest.mark.tensorflow
def test_roll_of_a_gmd_file_contains_every_drums_converter_window(tmp_path, monkeypatch):
    """Our roll must agree with the windows Magenta trains on (DrumsConverter, roll_input=True)."""
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")  # Magenta needs Keras 2; read at TF import
    import note_seq
    from magenta.models.music_vae import data

    member = "groove/drummer1/session1/176_afrocuban_105_beat_4-4.mid"
    with zipfile.ZipFile(GMD_SAMPLE_ZIP) as archive:
        midi_path = Path(archive.extract(member, tmp_path))
    sequence = note_seq.midi_file_to_note_sequence(str(midi_path))

    roll, velocity = roll_from_note_sequence(sequence)
    assert roll.shape[0] % 16 == 0 and roll.sum() > 100
    assert np.array_equal(velocity > 0, roll)

    converter = data.DrumsConverter(
        slice_bars=4, steps_per_quarter=4, roll_input=True, max_tensors_per_notesequence=None
    )
    converter_windows = as_drum_rolls(np.stack(converter.to_tensors(sequence).inputs))
    assert len(converter_windows) > 10
    bar_aligned_windows = {roll[start : start + 64].tobytes() for start in range(0, len(roll) - 63, 16)}
    assert all(window.tobytes() in bar_aligned_windows for window in converter_windows)


# --- real-vs-real baseline and the quality targets, on real rock beats of the embedded sample ---


def targets_of(samples, held_out, train, accuracy=0.7, **limits):
    from beatvae.realism import realism_report

    baseline = real_baseline(held_out, train, num_draws=len(samples), seed=1)
    nearest = nearest_training_windows(samples, train).distance
    distance = distribution_distance(samples, held_out)["overall"]
    realism = realism_report(samples, train, held_out, seed=1)
    return quality_targets(sample_statistics(samples), distance, nearest, baseline, accuracy, limits, realism)


def test_real_baseline_of_unseen_rock_playing(rock_split):
    held_out, train = rock_split
    baseline = real_baseline(held_out, train, num_draws=16, seed=3)
    assert baseline["statistics"] == sample_statistics(held_out)
    assert baseline["train_statistics"] == sample_statistics(train)
    assert baseline["distance"] > 0 and len(baseline["distance_per_draw"]) == 5
    # A drummer's unseen performance is never cell for cell a window of another file.
    assert baseline["nearest_hamming"]["exact_copies"] == 0
    assert baseline["nearest_hamming"]["median"] == np.median(nearest_training_windows(held_out, train).distance) > 0


def test_real_baseline_of_training_windows_against_themselves(rock_split):
    _, train = rock_split
    baseline = real_baseline(train, train, num_draws=len(train), seed=3)
    # All training windows drawn: the same distribution, every window its own nearest.
    assert baseline["distance"] == 0.0
    assert baseline["nearest_hamming"] == {"median": 0.0, "mean": 0.0, "exact_copies": len(train)}


def test_real_baseline_needs_windows_on_both_sides(rock_split):
    held_out, _ = rock_split
    with pytest.raises(ValueError, match="held-out and training windows"):
        real_baseline(held_out, held_out[:0], num_draws=4, seed=0)


def test_held_out_real_windows_meet_every_target(rock_split):
    held_out, train = rock_split
    targets = targets_of(held_out, held_out, train)
    assert targets["all_met"], targets
    assert targets["notes_per_bar"]["value"] == targets["notes_per_bar"]["real"]
    assert targets["feature_distance"]["value"] == 0.0
    assert targets["novelty"]["value"] == targets["novelty"]["real"]
    assert targets["class_rates"]["value"] == targets["class_rates"]["held_out_value"]
    for name in ("clean_backbeat", "bar_change", "fill"):
        assert targets[name]["value"] == targets[name]["real"] and targets[name]["met"]


def test_copies_of_training_windows_fail_the_novelty_targets(rock_split):
    held_out, train = rock_split
    targets = targets_of(train[: len(held_out)], held_out, train)
    assert targets["exact_copies"] == {
        "value": len(held_out), "threshold": 0, "met": False, "comparison": "<=", "counted": True
    }  # fmt: skip
    assert targets["novelty"]["value"] == 0.0 and not targets["novelty"]["met"]
    assert not targets["all_met"]
    # A looser limit is a config change, not a code change.
    assert targets_of(train[: len(held_out)], held_out, train, max_exact_copies=len(held_out))["exact_copies"]["met"]


def test_denser_beats_fail_notes_and_class_rates(rock_split):
    held_out, train = rock_split
    busy = held_out.copy()
    busy[:, 2::4, 6] = True  # a high tom on every other eighth note: 8 extra hits per bar
    targets = targets_of(busy, held_out, train)
    assert not targets["notes_per_bar"]["met"]
    assert targets["notes_per_bar"]["value"] > targets["notes_per_bar"]["threshold"][1]
    per_class = targets["class_rates"]["per_class"]
    assert not per_class["high_tom_per_bar"]["met"] and per_class["kick_per_bar"]["met"]
    assert targets["class_rates"]["value"] == targets["class_rates"]["held_out_value"] - 1
    assert not targets["class_rates"]["met"]
    assert not targets["feature_distance"]["met"]


def test_rare_classes_get_half_a_hit_of_slack(rock_split):
    held_out, train = rock_split
    # Class rates are judged against the training windows' rates, which are what a model can learn.
    train_crash = sample_statistics(train)["crash_per_bar"]
    assert train_crash < 0.5  # rock beats rarely crash, so +-50% alone would be a razor's edge
    crashing = train[: len(held_out)].copy()
    crashing[:, 0::32, 7] = True  # a crash every other bar: at most +0.5 per bar
    rate = sample_statistics(crashing)["crash_per_bar"]
    assert rate > train_crash * 1.5
    crash = targets_of(crashing, held_out, train)["class_rates"]["per_class"]["crash_per_bar"]
    assert crash["train"] == train_crash and crash["held_out"] == sample_statistics(held_out)["crash_per_bar"]
    assert crash["met"] == (abs(rate - train_crash) <= 0.5)


def test_accuracy_target_is_unknown_without_validation_and_checked_with_it(rock_split):
    held_out, train = rock_split
    assert targets_of(held_out, held_out, train, accuracy=0.59)["free_running_accuracy"]["met"] is False
    unknown = targets_of(held_out, held_out, train, accuracy=None, reference_only=[])
    assert unknown["free_running_accuracy"]["met"] is None and not unknown["all_met"]


def test_unknown_target_key_is_named(rock_split):
    held_out, train = rock_split
    with pytest.raises(ValueError, match="novelty_ration"):
        targets_of(held_out, held_out, train, novelty_ration=0.5)


def test_schema_names_every_target_reference_only_may_name(rock_split):
    """The schema is the one place of the targets' defaults: every key it defaults is used, and
    `reference_only` may name exactly the targets the evaluation reports."""
    import yaml

    held_out, train = rock_split
    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/schema.yaml").read_text())
    targets = schema["properties"]["evaluation"]["properties"]["targets"]["properties"]
    assert targets["reference_only"]["items"]["enum"] == list(TARGET_NAMES)
    reported = targets_of(held_out, held_out, train, **schema_defaults("evaluation.targets"))
    assert [name for name in reported if name != "all_met"] == list(TARGET_NAMES)
    # The default (CPU) run is not held to the reference run's accuracy target, nor to the class rates.
    assert schema_defaults("evaluation.targets")["free_running_accuracy"] == 0.8
    assert {name for name in TARGET_NAMES if not reported[name]["counted"]} == {"free_running_accuracy", "class_rates"}


def test_reference_only_targets_are_reported_but_not_counted(rock_split):
    held_out, train = rock_split
    low_accuracy = targets_of(held_out, held_out, train, accuracy=0.5)
    accuracy = low_accuracy["free_running_accuracy"]
    assert accuracy["met"] is False and not accuracy["counted"]
    assert low_accuracy["all_met"]
    counted = targets_of(held_out, held_out, train, accuracy=0.5, reference_only=[])
    assert counted["free_running_accuracy"]["counted"] and not counted["all_met"]
    with pytest.raises(ValueError, match=r"reference_only names \['accuracy'\]"):
        targets_of(held_out, held_out, train, reference_only=["accuracy"])


def test_evaluation_report_states_targets_beside_the_baseline(rock_split):
    from beatvae.comparison import comparison_row
    from beatvae.evaluation import sample_report
    from beatvae.targets import report_targets

    held_out, train = rock_split
    samples = np.concatenate([held_out[:4], train[:1]])  # four unseen windows and one copy
    report = sample_report(samples, held_out, train, temperature=0.5, seed=7)
    assert report["memorization"]["exact_copies"] == 1
    assert report["real_baseline"]["distance_draws"] == len(samples)
    assert report["samples"]["held_out_statistics"] == report["real_baseline"]["statistics"]
    report["reconstruction"] = {"validation": {"teacher_forced": {"windows": 0}, "free_running": {"windows": 0}}}
    report["targets"] = report_targets(report, None)
    row = comparison_row("v2", report)
    assert row["target_exact_copies"] == "not met"
    assert row["target_free_running_accuracy"] == "not evaluated"
    assert row["targets_met"] == "not all"
    assert row["real_median_nearest_hamming"] == report["real_baseline"]["nearest_hamming"]["median"]
    assert row["baseline_distance"] == report["real_baseline"]["distance"]
    assert "trained_steps" not in row, "a report without training facts (written before them) has no such columns"


def test_the_comparison_says_how_far_each_model_trained_and_whether_a_time_limit_cut_it_short(rock_split):
    from beatvae.comparison import comparison_row, groove_row
    from beatvae.evaluation import sample_report, training_facts
    from beatvae.page_tables import topic_of

    held_out, train = rock_split
    report = sample_report(held_out[:4], held_out, train, temperature=0.5, seed=7)
    report["reconstruction"] = {}
    summary = {"steps": 1_873, "exported": {"step": 1_600}, "stopped_at_time_limit": True}
    report["training"] = training_facts(summary)
    row = comparison_row("v2", report)
    assert (row["trained_steps"], row["exported_step"], row["stopped_at_time_limit"]) == (1_873, 1_600, "yes")
    assert {topic_of(column) for column in ("trained_steps", "exported_step", "stopped_at_time_limit")} == {"Training"}
    groove = groove_row("groove", {"held_out": None, "training": training_facts({"steps": 2_400})})
    assert (groove["trained_steps"], groove["exported_step"], groove["stopped_at_time_limit"]) == (2_400, None, "no")
