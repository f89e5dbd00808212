"""Do generated beats sound like the real playing they learned from? Figures a listener hears.

- A classifier two-sample test: a seeded logistic regression learns to tell generated windows from
  held-out real ones; its cross-validated accuracy is 0.5 when it cannot (they sound alike) and 1.0
  when every sample gives itself away. Its floor is the same test between training and held-out real
  windows: different drummers are told apart somewhat too, so that, not 0.5, is what a model can reach.
- Musical structure per bar: clean backbeats, bar-to-bar change, fills and a steady time-keeper.
- Class rates (hits per bar of each drum class) beside the training windows', which are what a model
  can learn, and the held-out windows'.

Drum rolls are bool [windows, steps, 9] on a 16th-note grid in `settings.DRUM_CLASS_NAMES` order
(DrumsConverter encoder inputs [..., 10] are accepted too). `realism_report` computes all of it; bench
scripts can call it on any model's samples. numpy and scikit-learn only: no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from beatvae.metrics import (
    RATE_FEATURES,
    as_drum_rolls,
    sample_statistics,
    window_features,
)
from beatvae.settings import DRUM_CLASS_NAMES

_CLASS = {name: index for index, name in enumerate(DRUM_CLASS_NAMES)}
KICK, SNARE = _CLASS["kick"], _CLASS["snare"]
# Voices that carry a fill: the snare and the toms.
FILL_VOICES = (_CLASS["snare"], _CLASS["low_tom"], _CLASS["mid_tom"], _CLASS["high_tom"])
# Voices that keep time in a beat: hi-hat (closed or open) and ride, and the crash, which often takes
# the hi-hat's place on the first beat of a bar.
TIME_KEEPER = (_CLASS["closed_hihat"], _CLASS["open_hihat"], _CLASS["ride"], _CLASS["crash"])
FILL_MIN_STEPS = 9  # a bar whose snare or toms sound on at least 9 of its 16 16ths is a fill
MAX_BACKBEAT_SNARES = 4  # a clean backbeat bar has at most 4 snare hits (2 and 4, plus ghost notes)

# What each structure figure is, for the report (results/eval/{variant}.json) and README.
STRUCTURE_FIGURES: dict[str, str] = {
    "clean_backbeat": (
        f"share of bars with a kick on beat 1, a snare on beats 2 and 4 and at most {MAX_BACKBEAT_SNARES} "
        "snare hits in the bar"
    ),
    "bar_change": (
        "share of a bar's (16th, drum class) cells that differ from the previous bar's, averaged over the "
        "consecutive bar pairs of a window: 0 = the same bar repeated, higher = less repetition"
    ),
    "fill": f"share of bars where the snare or a tom sounds on at least {FILL_MIN_STEPS} of the 16 16ths",
    "steady_pulse": "share of bars where the time-keeper (hi-hat, ride or crash) sounds on all four quarter-note beats",
}
STRUCTURE_NAMES: tuple[str, ...] = tuple(STRUCTURE_FIGURES)

# The two-sample test: a logistic regression on what a listener hears (`classifier_features`: which
# drum hits at which 16th of the window, and a summary of the window), cross-validated over FOLDS
# folds and averaged over REPEATS draws of the real windows. Strongly L2-regularized: on rock windows
# of the full GMD (256 a side), C 0.01 told altered windows from held-out ones at least as well as
# 0.003, 0.03 and 0.1, with the lowest floor; with liblinear, `realism_report` takes 1-2 s on one core.
CLASSIFIER_C = 0.01
FOLDS = 5
REPEATS = 3
CLASSIFIER_FEATURES = (
    "flattened hit roll (steps x 9 drum classes, 1 = hit) and, standardized, each window's hits per bar of "
    "each class, notes per bar, shares on the beat and backbeat, syncopation and structure shares"
)


def bars_of(rolls, steps_per_bar: int = 16) -> np.ndarray:
    """bool [windows, bars, steps_per_bar, 9]: each window cut into its bars."""
    rolls = as_drum_rolls(rolls)
    num_windows, num_steps, num_classes = rolls.shape
    if num_steps % steps_per_bar:
        raise ValueError(f"windows of {num_steps} steps are not whole bars of {steps_per_bar} steps")
    return rolls.reshape(num_windows, num_steps // steps_per_bar, steps_per_bar, num_classes)


def clean_backbeat_bars(bars: np.ndarray) -> np.ndarray:
    """bool [windows, bars]: kick on beat 1, snare on beats 2 and 4, at most MAX_BACKBEAT_SNARES snares."""
    steps_per_beat = bars.shape[2] // 4
    snare = bars[..., SNARE]
    return (
        bars[:, :, 0, KICK]
        & snare[:, :, steps_per_beat]
        & snare[:, :, 3 * steps_per_beat]
        & (snare.sum(axis=2) <= MAX_BACKBEAT_SNARES)
    )


def fill_bars(bars: np.ndarray) -> np.ndarray:
    """bool [windows, bars]: the snare or a tom sounds on at least FILL_MIN_STEPS steps of the bar."""
    return bars[..., list(FILL_VOICES)].any(axis=3).sum(axis=2) >= FILL_MIN_STEPS


def steady_pulse_bars(bars: np.ndarray) -> np.ndarray:
    """bool [windows, bars]: the time-keeper sounds on every quarter-note beat of the bar."""
    steps_per_beat = bars.shape[2] // 4
    return bars[:, :, ::steps_per_beat][..., list(TIME_KEEPER)].any(axis=3).all(axis=2)


def bar_change(bars: np.ndarray) -> np.ndarray:
    """float [windows]: mean share of cells that change between consecutive bars (NaN for 1-bar windows)."""
    if bars.shape[1] < 2:
        return np.full(len(bars), np.nan)
    return (bars[:, 1:] != bars[:, :-1]).mean(axis=(2, 3)).mean(axis=1)


def structure(rolls, steps_per_bar: int = 16) -> dict[str, float]:
    """The STRUCTURE_FIGURES of a set of windows: shares over all their bars, bar change over windows."""
    bars = bars_of(rolls, steps_per_bar)
    if not len(bars):
        return dict.fromkeys(STRUCTURE_NAMES, float("nan"))
    return {
        "clean_backbeat": float(clean_backbeat_bars(bars).mean()),
        "bar_change": float(np.nanmean(bar_change(bars))) if bars.shape[1] > 1 else float("nan"),
        "fill": float(fill_bars(bars).mean()),
        "steady_pulse": float(steady_pulse_bars(bars).mean()),
    }


class TooFewGroups(ValueError):
    """The two-sample test cannot keep each performance in one fold with fewer than 2 a side."""


def _groups(groups, count: int, prefix: str) -> np.ndarray:
    """Each window's group (performance id); without `groups`, each window is a group of its own."""
    if groups is None:
        return np.array([f"{prefix}{index}" for index in range(count)])
    groups = np.asarray(groups).astype(str)
    if len(groups) != count:
        raise ValueError(f"{len(groups)} group ids for {count} windows")
    return groups


def window_summary(rolls, steps_per_bar: int = 16) -> np.ndarray:
    """float [windows, features]: what a listener hears of a whole window, beyond single cells: the
    rhythm features of `metrics.window_features` (hits per bar of each class, notes per bar, shares on
    the beat and backbeat, syncopation) and the share of its bars with each structure figure."""
    rolls = as_drum_rolls(rolls)
    bars = bars_of(rolls, steps_per_bar)
    columns = [
        window_features(rolls, steps_per_bar).fillna(0.0).to_numpy(),
        clean_backbeat_bars(bars).mean(axis=1, keepdims=True),
        fill_bars(bars).mean(axis=1, keepdims=True),
        steady_pulse_bars(bars).mean(axis=1, keepdims=True),
        np.nan_to_num(bar_change(bars))[:, np.newaxis],
    ]
    return np.concatenate(columns, axis=1)


def classifier_features(rolls, steps_per_bar: int = 16) -> np.ndarray:
    """float32 [windows, cells + summary]: the flattened hit roll, then `window_summary`."""
    rolls = as_drum_rolls(rolls)
    cells = rolls.reshape(len(rolls), -1)
    return np.concatenate([cells, window_summary(rolls, steps_per_bar)], axis=1).astype(np.float32)


def _classifier(num_cells: int, seed: int):
    """Logistic regression on the cells as they are (0/1) and the summary standardized."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scale_summary = ColumnTransformer(
        [("cells", "passthrough", slice(0, num_cells)), ("summary", StandardScaler(), slice(num_cells, None))]
    )
    # liblinear: 20x faster than lbfgs on these few hundred windows; seeded, as it shuffles.
    return make_pipeline(scale_summary, LogisticRegression(C=CLASSIFIER_C, solver="liblinear", random_state=seed))


def _cross_validated_accuracy(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray, seed: int, num_cells: int
) -> tuple[float, int]:
    from sklearn.model_selection import StratifiedGroupKFold

    folds = min(FOLDS, *(len(np.unique(groups[labels == side])) for side in (0, 1)))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    correct = 0
    for train_index, test_index in splitter.split(features, labels, groups):
        train_labels = labels[train_index]
        if len(np.unique(train_labels)) < 2:  # one side's groups all fell into this test fold
            predicted = np.full(len(test_index), train_labels[0])
        else:
            classifier = _classifier(num_cells, seed)
            classifier.fit(features[train_index], train_labels)
            predicted = classifier.predict(features[test_index])
        correct += int(np.sum(predicted == labels[test_index]))
    return correct / len(labels), folds


def two_sample_accuracy(first, second, first_groups=None, second_groups=None, seed: int = 0, repeats: int = REPEATS):
    """How well a classifier tells `first` windows from `second` ones: cross-validated accuracy.

    Both sides are cut to the same count (a seeded draw without replacement from the larger), so 0.5
    is chance. Windows of one group (one performance: overlapping windows share bars) stay in one
    fold (StratifiedGroupKFold: GroupKFold that also keeps both sides in every fold), so the
    classifier never judges a window it has seen overlapping bars of; windows without `groups` are
    groups of their own (generated samples). The mean over `repeats` draws and fold splits is
    returned as {"accuracy", "per_draw", "per_side", "folds"}.
    """
    first, second = as_drum_rolls(first), as_drum_rolls(second)
    if first.shape[1:] != second.shape[1:]:
        raise ValueError(f"windows shaped {first.shape[1:]} and {second.shape[1:]} cannot be compared")
    first_groups = _groups(first_groups, len(first), "first-")
    second_groups = _groups(second_groups, len(second), "second-")
    per_side = min(len(first), len(second))
    rng = np.random.default_rng(seed)
    first_features, second_features = classifier_features(first), classifier_features(second)
    num_cells = first.shape[1] * first.shape[2]
    accuracies, folds = [], []
    for repeat in range(repeats):
        chosen_first = np.sort(rng.choice(len(first), size=per_side, replace=False))
        chosen_second = np.sort(rng.choice(len(second), size=per_side, replace=False))
        features = np.concatenate([first_features[chosen_first], second_features[chosen_second]])
        labels = np.repeat([0, 1], per_side)
        for side, drawn in (("first", first_groups[chosen_first]), ("second", second_groups[chosen_second])):
            if len(np.unique(drawn)) < 2:
                raise TooFewGroups(
                    f"the two-sample test needs windows of at least 2 performances a side; the {side} side's "
                    f"{per_side} windows come from {len(np.unique(drawn))}"
                )
        groups = np.concatenate([first_groups[chosen_first], second_groups[chosen_second]])
        accuracy, draw_folds = _cross_validated_accuracy(features, labels, groups, seed + repeat, num_cells)
        accuracies.append(accuracy)
        folds.append(draw_folds)
    return {
        "accuracy": float(np.mean(accuracies)),
        "per_draw": accuracies,
        "per_side": per_side,
        "folds": min(folds),
    }


def class_rates(samples, train, held_out) -> dict:
    """Hits per bar of each drum class: samples beside the training windows (what the model can
    learn) and the held-out ones, with the samples' ratio to training."""
    rates = {who: sample_statistics(rolls) for who, rolls in (("samples", samples), ("train", train))}
    rates["held_out"] = sample_statistics(held_out) if len(as_drum_rolls(held_out)) else None
    result = {}
    for feature, name in zip(RATE_FEATURES, DRUM_CLASS_NAMES, strict=True):
        value, train_rate = rates["samples"][feature], rates["train"][feature]
        result[name] = {
            "value": value,
            "train": train_rate,
            "held_out": rates["held_out"][feature] if rates["held_out"] else None,
            "ratio_to_train": value / train_rate if train_rate > 0 else None,
        }
    return result


def realism_report(
    samples,
    train,
    held_out,
    train_groups: Sequence | None = None,
    held_out_groups: Sequence | None = None,
    seed: int = 0,
    repeats: int = REPEATS,
) -> dict:
    """Every realism figure of generated `samples` against real windows of the same subset.

    `train` / `held_out`: the subset's training and held-out real windows (bool [N, steps, 9] or
    DrumsConverter inputs); `*_groups`: each window's performance (`Windows.sources`), so that
    overlapping windows of one performance never sit on both sides of a fold.
    - `two_sample`: `accuracy` of telling samples from held-out windows, and its `floor`, the same
      test on as many training windows against the held-out ones (real vs real); both None, with
      `why`, when a side's windows come from fewer than 2 performances (tiny test subsets). The floor may lie
      below 0.5: a fold's held-out windows are of performances the classifier has not seen, so what
      it learned about the held-out side's performances misleads it; samples face the same.
    - `structure`: STRUCTURE_FIGURES of the samples, the held-out and the training windows.
    - `class_rates`: per drum class, the samples' hits per bar beside training and held-out.
    """
    samples, train, held_out = as_drum_rolls(samples), as_drum_rolls(train), as_drum_rolls(held_out)
    two_sample = {"classifier": f"logistic regression (C={CLASSIFIER_C}) on the {CLASSIFIER_FEATURES}"}
    try:
        real_vs_samples = two_sample_accuracy(samples, held_out, None, held_out_groups, seed, repeats)
        count = min(len(samples), len(train))
        drawn = np.sort(np.random.default_rng(seed).choice(len(train), size=count, replace=False))
        train_groups = _groups(train_groups, len(train), "train-")[drawn]
        real_vs_real = two_sample_accuracy(train[drawn], held_out, train_groups, held_out_groups, seed, repeats)
    except TooFewGroups as error:
        # Cross-validation keeps a performance in one fold: with one, a fold has nothing to learn that side from.
        two_sample.update(accuracy=None, floor=None, why=str(error))
    else:
        two_sample.update(
            accuracy=real_vs_samples["accuracy"],
            floor=real_vs_real["accuracy"],
            samples_vs_held_out=real_vs_samples,
            train_vs_held_out=real_vs_real,
        )
    return {
        "two_sample": two_sample,
        "structure": {
            "samples": structure(samples),
            "held_out": structure(held_out),
            "train": structure(train),
            "definitions": dict(STRUCTURE_FIGURES),
        },
        "class_rates": class_rates(samples, train, held_out),
    }
