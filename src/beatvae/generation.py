"""4-bar samples and 32-bar latent interpolations from a trained model, as General MIDI drums."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from beatvae.dataset import make_converter, midi_to_note_sequence
from beatvae.midi import retimed, sequence_qpm, write_midi
from beatvae.model import TrainedModelDir, sample_latents
from beatvae.settings import ENDPOINTS_KEY, window_bars, window_steps


def slerp(first: np.ndarray, last: np.ndarray, fractions: Sequence[float]) -> np.ndarray:
    """Spherical interpolation between two latent vectors (linear when they are parallel)."""
    first, last = np.asarray(first, np.float64), np.asarray(last, np.float64)
    cosine = np.dot(first, last) / (np.linalg.norm(first) * np.linalg.norm(last))
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    points = []
    for t in fractions:
        if np.sin(omega) < 1e-6:
            points.append((1 - t) * first + t * last)
        else:
            points.append((np.sin((1 - t) * omega) * first + np.sin(t * omega) * last) / np.sin(omega))
    return np.asarray(points, np.float32)


def generate_samples(model: TrainedModelDir, generation, sample_paths, latents_path) -> np.ndarray:
    """Decodes `len(sample_paths)` random latents into 4-bar MIDIs; saves the latents too."""
    converter = model.converter
    trained = model.trained_model(batch_size=len(sample_paths), seed=generation["seed"])
    z = sample_latents(len(sample_paths), model.z_size, generation["seed"])
    sequences = trained.decode(z, length=window_steps(converter), temperature=generation["temperature"])
    for sequence, path in zip(sequences, sample_paths, strict=True):
        write_midi(retimed(sequence, generation["qpm"], converter["quarters_per_bar"], window_bars(converter)), path)
    np.save(latents_path, z)
    return z


def opening_window(sequence, converter_settings: Mapping):
    """The converter's tensors for the earliest `slice_bars`-bar drum window of a performance.

    The converter de-duplicates windows through a set, so their order is lost: windows are
    cut bar by bar from the start instead, which also skips count-ins and opening gaps. Each cut
    ends half a step early, as a hit there quantizes onto the next bar and would make the
    converter return two windows.
    """
    import note_seq

    converter = make_converter(converter_settings)
    qpm = sequence_qpm(sequence)
    step_seconds = 60.0 / qpm / converter_settings["steps_per_quarter"]
    bar_seconds = converter_settings["quarters_per_bar"] * 60.0 / qpm
    window_seconds = window_bars(converter_settings) * bar_seconds
    start = 0.0
    while start + window_seconds <= sequence.total_time + bar_seconds:
        window = note_seq.sequences_lib.extract_subsequence(sequence, start, start + window_seconds - step_seconds / 2)
        tensors = converter.to_tensors(window)
        if tensors.inputs:
            return tensors
        start += bar_seconds
    raise ValueError(f"{sequence.filename or 'sequence'}: no {window_bars(converter_settings)}-bar 4/4 drum window")


def endpoint_latents(
    model, endpoints: Mapping, converter: Mapping, sample_latents_path=None, metadata=None, gmd_root=None
):
    """The two latent vectors to interpolate between, as `generation.interpolation.endpoints` says."""
    source = endpoints["source"]
    if source == "samples":
        z = np.load(sample_latents_path)
        picks = [int(endpoints["first"]), int(endpoints["last"])]
        if max(picks) >= len(z):
            raise ValueError(f"interpolation endpoints {picks} name samples beyond the {len(z)} generated")
        return z[picks[0]], z[picks[1]]
    if source == "files":
        import note_seq

        sequences = [note_seq.midi_file_to_note_sequence(str(endpoints[k])) for k in ("first", "last")]
    elif source == "dataset":
        rows = metadata.set_index("id")
        missing = [endpoints[k] for k in ("first", "last") if endpoints[k] not in rows.index]
        if missing:
            raise ValueError(
                f"interpolation endpoints {missing} are not GMD ids in the metadata (e.g. {rows.index[0]})"
            )
        sequences = [midi_to_note_sequence(gmd_root, rows.loc[endpoints[k], "path"]) for k in ("first", "last")]
    else:
        raise ValueError(f"unknown interpolation endpoint source {source!r}")
    windows = []
    for key, sequence in zip(("first", "last"), sequences, strict=True):
        try:
            windows.append(opening_window(sequence, converter))
        except ValueError as error:  # named: which endpoint, which file or performance
            raise ValueError(f"{ENDPOINTS_KEY}.{key}: {endpoints[key]}: {error}") from error
    _, mu, _ = model.encode_tensors([w.inputs[0] for w in windows], [w.lengths[0] for w in windows])
    return mu[0], mu[1]


def interpolate(model, first_z, last_z, interpolation: Mapping, converter: Mapping, qpm: float, midi_path, step_paths):
    """Decodes `num_steps` slerp points into one long MIDI plus one MIDI per step."""
    import note_seq

    num_steps = interpolation["num_steps"]
    z = slerp(first_z, last_z, np.linspace(0.0, 1.0, num_steps))
    steps = window_steps(converter)
    segments = model.decode(z, length=steps, temperature=interpolation["temperature"])
    segments = [retimed(s, qpm, converter["quarters_per_bar"], window_bars(converter)) for s in segments]
    segment_seconds = steps / converter["steps_per_quarter"] * 60.0 / qpm
    for segment, path in zip(segments, step_paths, strict=True):
        write_midi(segment, path)
    joined = note_seq.sequences_lib.concatenate_sequences(segments, [segment_seconds] * num_steps)
    write_midi(joined, midi_path)
    return z


def interpolate_variant(
    model_dir, generation: Mapping, midi_path, step_paths, latents_path=None, metadata_path=None, gmd_dir=None
):
    """The interpolate_beats job: endpoints as configured, slerp, decode, write MIDIs."""
    import pandas as pd

    from beatvae.metadata import find_gmd_root

    trained = TrainedModelDir.load(model_dir)
    converter = trained.converter
    interpolation = generation["interpolation"]
    model = trained.trained_model(batch_size=interpolation["num_steps"], seed=generation["seed"])
    first_z, last_z = endpoint_latents(
        model,
        interpolation["endpoints"],
        converter,
        sample_latents_path=latents_path,
        metadata=pd.read_parquet(metadata_path) if metadata_path else None,
        gmd_root=find_gmd_root(gmd_dir) if gmd_dir else None,
    )
    return interpolate(model, first_z, last_z, interpolation, converter, generation["qpm"], midi_path, step_paths)
