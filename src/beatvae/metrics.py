"""Numbers that describe drum rolls: per-window rhythm features, how far generated beats are
from the training distribution, and which training window each generated beat is closest to.

A drum roll is a bool array [num_windows, steps, 9] (or [steps, 9] for one window) on a
16th-note grid; the 9 columns are Magenta's reduced drum classes in the order of
`DRUM_CLASS_NAMES`. The encoder inputs of Magenta's DrumsConverter(roll_input=True), shaped
[..., 10], are accepted too: their last column is a "no hit" bit and is dropped.

Only numpy, pandas and note_seq are imported here, so none of this pulls in TensorFlow.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from note_seq import drums_encoder_decoder, sequences_lib

from beatvae.settings import DRUM_CLASS_NAMES, NUM_DRUM_CLASSES

# magenta.models.music_vae.data.REDUCED_DRUM_PITCH_CLASSES is this very object; reading it
# from note_seq keeps TensorFlow out of the import.
DRUM_PITCH_CLASSES: list[list[int]] = drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES
PITCH_TO_DRUM_CLASS: dict[int, int] = {
    pitch: drum_class for drum_class, pitches in enumerate(DRUM_PITCH_CLASSES) for pitch in pitches
}

RATE_FEATURES: tuple[str, ...] = tuple(f"{name}_per_bar" for name in DRUM_CLASS_NAMES)
FEATURE_NAMES: tuple[str, ...] = RATE_FEATURES + (
    "notes_per_bar",
    "beat_share",
    "backbeat_share",
    "syncopation_per_bar",
)


def as_drum_rolls(rolls) -> np.ndarray:
    """Return `rolls` as bool [num_windows, steps, 9], dropping a DrumsConverter "no hit" column."""
    rolls = np.asarray(rolls)
    if rolls.ndim == 2:
        rolls = rolls[np.newaxis]
    if rolls.ndim != 3 or rolls.shape[-1] not in (NUM_DRUM_CLASSES, NUM_DRUM_CLASSES + 1):
        raise ValueError(
            f"expected a drum roll shaped [windows, steps, {NUM_DRUM_CLASSES}] or "
            f"[windows, steps, {NUM_DRUM_CLASSES + 1}], got {rolls.shape}"
        )
    return rolls[..., :NUM_DRUM_CLASSES].astype(bool, copy=False)


def roll_from_note_sequence(note_sequence, steps_per_quarter=4, quarters_per_bar=4, num_steps=None):
    """Quantize a NoteSequence's drum notes into (roll bool [steps, 9], velocity float [steps, 9]).

    Follows DrumsConverter: a hit lands on its note's quantized start step, non-drum notes and
    pitches outside the 9 classes are ignored. Velocities are MIDI velocities (0-127), the
    loudest note per cell, 0 where there is no hit. Without `num_steps` the roll covers the
    sequence rounded up to whole bars; with it, the roll is cut or zero-padded to that length.
    """
    if sequences_lib.is_quantized_sequence(note_sequence):
        quantized_steps_per_quarter = note_sequence.quantization_info.steps_per_quarter
        if quantized_steps_per_quarter != steps_per_quarter:
            raise ValueError(
                f"sequence is quantized at {quantized_steps_per_quarter} steps per quarter, not {steps_per_quarter}"
            )
        quantized = note_sequence
    else:
        quantized = sequences_lib.quantize_note_sequence(note_sequence, steps_per_quarter)

    hits = [
        (note.quantized_start_step, PITCH_TO_DRUM_CLASS[note.pitch], note.velocity)
        for note in quantized.notes
        if note.is_drum and note.pitch in PITCH_TO_DRUM_CLASS
    ]
    steps, classes, velocities = np.array(hits, dtype=int).reshape(-1, 3).T

    if num_steps is None:
        steps_per_bar = steps_per_quarter * quarters_per_bar
        last_step = max(quantized.total_quantized_steps, steps.max(initial=-1) + 1)
        num_steps = -(-last_step // steps_per_bar) * steps_per_bar

    velocity = np.zeros((num_steps, NUM_DRUM_CLASSES), dtype=np.float32)
    inside = steps < num_steps
    # maximum.at keeps the loudest of several notes that fall into one cell.
    np.maximum.at(velocity, (steps[inside], classes[inside]), velocities[inside].astype(np.float32))
    roll = np.zeros((num_steps, NUM_DRUM_CLASSES), dtype=bool)
    roll[steps[inside], classes[inside]] = True
    return roll, velocity


def metrical_weights(steps_per_bar=16) -> np.ndarray:
    """Longuet-Higgins & Lee metrical weight of each step in a 4/4 bar of binary subdivisions.

    Downbeat 0, half bar -1, quarter -2, eighth -3, sixteenth -4 (for 16 steps per bar).
    """
    if steps_per_bar < 4 or steps_per_bar & (steps_per_bar - 1):
        raise ValueError(f"steps_per_bar must be a power of two >= 4, got {steps_per_bar}")
    levels = steps_per_bar.bit_length() - 1
    positions = np.arange(steps_per_bar)
    # The number of trailing zero bits of a position says how coarse a grid it belongs to.
    trailing_zeros = np.zeros(steps_per_bar, dtype=int)
    for level in range(1, levels + 1):
        trailing_zeros[positions % (1 << level) == 0] = level
    weights = trailing_zeros - levels
    weights[0] = 0
    return weights


def lhl_syncopation(onsets, steps_per_bar=16) -> np.ndarray:
    """Longuet-Higgins & Lee syncopation of each window's onset pattern (bool [windows, steps]).

    Longuet-Higgins & Lee (1984), "The rhythmic interpretation of monophonic music", Music
    Perception 1(4), in the form of Fitch & Rosenfeld (2007), Music Perception 25(1): a note N
    followed by silence R on a metrically stronger position is a syncopation worth
    weight(R) - weight(N). Here R is the strongest silent step between N and the next onset (or
    the window's end: windows are not wrapped around), each onset counts at most once, and
    the window total is returned.
    """
    onsets = np.asarray(onsets, dtype=bool)
    num_windows, num_steps = onsets.shape
    weights = np.resize(metrical_weights(steps_per_bar), num_steps)

    # strongest_between[a, b]: strongest weight strictly between steps a and b (b may be
    # num_steps, the window end); -inf where nothing lies between.
    strongest_between = np.full((num_steps + 1, num_steps + 1), -np.inf)
    for start in range(num_steps):
        strongest_between[start, start + 2 :] = np.maximum.accumulate(weights[start + 1 :])

    step_index = np.arange(num_steps)
    onset_or_end = np.where(onsets, step_index, num_steps)
    next_onset_from = np.minimum.accumulate(onset_or_end[:, ::-1], axis=1)[:, ::-1]
    next_onset_after = np.concatenate([next_onset_from[:, 1:], np.full((num_windows, 1), num_steps)], axis=1)
    # Steps between an onset and the next one are silent by construction.
    gain = strongest_between[step_index, next_onset_after] - weights
    return np.where(onsets & (gain > 0), gain, 0.0).sum(axis=1)


def window_features(rolls, steps_per_bar=16) -> pd.DataFrame:
    """One row of rhythm features per window, columns `FEATURE_NAMES`.

    - `<drum>_per_bar`: hits of that drum class per bar.
    - `notes_per_bar`: hits of all classes per bar.
    - `beat_share`: share of hits on quarter-note beats (4/4 assumed).
    - `backbeat_share`: share of hits on beats 2 and 4 (steps 4 and 12 of a 16-step bar).
    - `syncopation_per_bar`: `lhl_syncopation` of the composite onset pattern (a step is an
      onset when any drum hits), divided by the number of bars.
    The two shares are NaN for windows without hits.
    """
    rolls = as_drum_rolls(rolls)
    num_windows, num_steps, _ = rolls.shape
    num_bars = num_steps / steps_per_bar
    steps_per_beat = steps_per_bar // 4
    position_in_bar = np.arange(num_steps) % steps_per_bar
    on_beat = position_in_bar % steps_per_beat == 0
    on_backbeat = (position_in_bar == steps_per_beat) | (position_in_bar == 3 * steps_per_beat)

    hits_per_class = rolls.sum(axis=1)
    hits_per_step = rolls.sum(axis=2)
    total_hits = hits_per_class.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        beat_share = hits_per_step[:, on_beat].sum(axis=1) / total_hits
        backbeat_share = hits_per_step[:, on_backbeat].sum(axis=1) / total_hits

    columns = {name: hits_per_class[:, i] / num_bars for i, name in enumerate(RATE_FEATURES)}
    columns["notes_per_bar"] = total_hits / num_bars
    columns["beat_share"] = beat_share
    columns["backbeat_share"] = backbeat_share
    columns["syncopation_per_bar"] = lhl_syncopation(rolls.any(axis=2), steps_per_bar) / num_bars
    return pd.DataFrame(columns, columns=list(FEATURE_NAMES), dtype=float)


def sample_statistics(rolls, steps_per_bar=16) -> dict[str, float]:
    """Mean of each `window_features` column (shares averaged over windows with hits)."""
    features = window_features(rolls, steps_per_bar)
    return {name: float(value) for name, value in features.mean(skipna=True).items()}


def wasserstein_1d(values_a, values_b) -> float:
    """1-D Wasserstein-1 (earth mover's) distance between two empirical distributions."""
    values_a = np.sort(np.asarray(values_a, dtype=float))
    values_b = np.sort(np.asarray(values_b, dtype=float))
    if values_a.size == 0 or values_b.size == 0:
        raise ValueError("both samples need at least one value")
    # Integral of |CDF_a - CDF_b| over the pooled support.
    support = np.sort(np.concatenate([values_a, values_b]))
    widths = np.diff(support)
    cdf_a = np.searchsorted(values_a, support[:-1], side="right") / values_a.size
    cdf_b = np.searchsorted(values_b, support[:-1], side="right") / values_b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def distribution_distance(sample_rolls, real_rolls, steps_per_bar=16) -> dict:
    """How far the feature distribution of `sample_rolls` is from that of `real_rolls`.

    Per feature: Wasserstein-1 distance between the two sets of window values, divided by the
    real values' standard deviation so features on different scales weigh alike (by the pooled
    std when the real feature is constant; 0 when both are the same constant). NaN values
    (shares of empty windows) are left out; a feature with no values on one side is NaN.
    Returns {"overall": mean of the finite per-feature values, "per_feature": {name: value},
    "per_feature_raw": {name: unscaled Wasserstein-1}}.
    """
    sample_features = window_features(sample_rolls, steps_per_bar)
    real_features = window_features(real_rolls, steps_per_bar)
    per_feature, per_feature_raw = {}, {}
    for name in FEATURE_NAMES:
        sample_values = sample_features[name].dropna().to_numpy()
        real_values = real_features[name].dropna().to_numpy()
        if sample_values.size == 0 or real_values.size == 0:
            per_feature[name] = per_feature_raw[name] = float("nan")
            continue
        raw = wasserstein_1d(sample_values, real_values)
        scale = real_values.std()
        if scale == 0:
            scale = np.concatenate([sample_values, real_values]).std()
        per_feature_raw[name] = raw
        per_feature[name] = raw / scale if scale > 0 else 0.0
    finite = [value for value in per_feature.values() if np.isfinite(value)]
    overall = float(np.mean(finite)) if finite else float("nan")
    return {"overall": overall, "per_feature": per_feature, "per_feature_raw": per_feature_raw}


class NearestWindows(NamedTuple):
    index: np.ndarray  # int64 [num_samples]: nearest training window (lowest index on ties)
    distance: np.ndarray  # int64 [num_samples]: cells that differ from it


def _pack_rolls(rolls: np.ndarray) -> np.ndarray:
    """Pack each window's cells into uint64 words, zero-padded (padding cancels out in XOR)."""
    flat = rolls.reshape(len(rolls), -1)
    packed = np.packbits(flat, axis=1)
    padding = -packed.shape[1] % 8
    packed = np.pad(packed, ((0, 0), (0, padding)))
    return np.ascontiguousarray(packed).view(np.uint64)


def nearest_training_windows(sample_rolls, train_rolls, max_chunk_bytes=32 * 2**20) -> NearestWindows:
    """Nearest training window of each sample by Hamming distance over the drum roll cells.

    Bits are packed into uint64 words and compared with XOR + popcount (np.bitwise_count),
    one [samples, training windows] block at a time so memory stays near `max_chunk_bytes`.
    """
    sample_rolls = as_drum_rolls(sample_rolls)
    train_rolls = as_drum_rolls(train_rolls)
    if sample_rolls.shape[1:] != train_rolls.shape[1:]:
        raise ValueError(
            f"sample windows {sample_rolls.shape[1:]} and training windows {train_rolls.shape[1:]} differ in shape"
        )
    if len(train_rolls) == 0:
        raise ValueError("no training windows to compare with")
    sample_words = _pack_rolls(sample_rolls)
    train_words = _pack_rolls(train_rolls)
    num_samples, num_words = sample_words.shape
    num_train = len(train_words)

    num_cells = sample_rolls.shape[1] * sample_rolls.shape[2]
    distance_dtype = np.uint16 if num_cells <= np.iinfo(np.uint16).max else np.uint32
    # Per block cell: one uint64 XOR word, one uint8 popcount and the running distance.
    cells_per_block = max(1, max_chunk_bytes // (8 + 1 + np.dtype(distance_dtype).itemsize))
    samples_per_block = max(1, min(num_samples, cells_per_block // min(num_train, 1024)))
    train_per_block = max(1, min(num_train, cells_per_block // samples_per_block))

    best_index = np.zeros(num_samples, dtype=np.int64)
    best_distance = np.full(num_samples, np.iinfo(np.int64).max, dtype=np.int64)
    for sample_start in range(0, num_samples, samples_per_block):
        samples = sample_words[sample_start : sample_start + samples_per_block]
        rows = slice(sample_start, sample_start + len(samples))
        for train_start in range(0, num_train, train_per_block):
            train = train_words[train_start : train_start + train_per_block]
            xor = np.empty((len(samples), len(train)), dtype=np.uint64)
            popcount = np.empty(xor.shape, dtype=np.uint8)
            distance = np.zeros(xor.shape, dtype=distance_dtype)
            # Word by word keeps the working set to 2-D blocks, about twice as fast as a
            # 3-D broadcast.
            for word in range(num_words):
                np.bitwise_xor(samples[:, word, None], train[None, :, word], out=xor)
                np.bitwise_count(xor, out=popcount)
                distance += popcount
            block_best = distance.argmin(axis=1)
            block_distance = distance[np.arange(len(samples)), block_best].astype(np.int64)
            # Strictly smaller keeps the earliest index on ties across blocks.
            better = block_distance < best_distance[rows]
            best_distance[rows] = np.where(better, block_distance, best_distance[rows])
            best_index[rows] = np.where(better, block_best + train_start, best_index[rows])
    return NearestWindows(index=best_index, distance=best_distance)


def real_baseline(held_out_rolls, train_rolls, num_draws: int, seed: int, repeats: int = 5, steps_per_bar=16) -> dict:
    """What real playing scores against the training windows: the floor for every generated figure.

    - `statistics` / `train_statistics`: mean window features of held-out and of training windows.
    - `distance`: `distribution_distance` of `num_draws` training windows (drawn without
      replacement, seeded) against the held-out windows, i.e. exactly the comparison samples get,
      with as many windows as there are samples, so both carry the same finite-sample noise;
      the mean over `repeats` draws (each in `distance_per_draw`) steadies the threshold.
    - `nearest_hamming`: each held-out window's Hamming distance to its nearest training window
      (`median`, `mean`, `exact_copies`), the novelty that real unseen playing has.
    """
    held_out = as_drum_rolls(held_out_rolls)
    train = as_drum_rolls(train_rolls)
    if len(held_out) == 0 or len(train) == 0:
        raise ValueError(
            f"the real-vs-real baseline needs held-out and training windows, got {len(held_out)} and {len(train)}"
        )
    rng = np.random.default_rng(seed)
    num_draws = min(num_draws, len(train))
    distances = [
        distribution_distance(
            train[np.sort(rng.choice(len(train), size=num_draws, replace=False))], held_out, steps_per_bar
        )["overall"]
        for _ in range(repeats)
    ]
    nearest = nearest_training_windows(held_out, train)
    return {
        "held_out_windows": len(held_out),
        "train_windows": len(train),
        "statistics": sample_statistics(held_out, steps_per_bar),
        "train_statistics": sample_statistics(train, steps_per_bar),
        "distance_draws": num_draws,
        "distance": float(np.mean(distances)),
        "distance_per_draw": distances,
        "nearest_hamming": {
            "median": float(np.median(nearest.distance)),
            "mean": float(nearest.distance.mean()),
            "exact_copies": int(np.sum(nearest.distance == 0)),
        },
    }
