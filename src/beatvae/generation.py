"""4-bar samples and 32-bar latent interpolations from a trained model, as General MIDI drums.

As in every stage: `model` is our trained model folder (TrainedModelDir), `trained` Magenta's
TrainedModel loaded from it (the session that encodes and decodes), and `representation` the
config's representation the model's windows are made with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from beatvae.dataset import make_converter, midi_to_note_sequence
from beatvae.midi import retimed, sequence_qpm, write_midi
from beatvae.model import TrainedModelDir, sample_latents
from beatvae.settings import ENDPOINT_KEYS, ENDPOINTS_KEY, window_bars, window_steps


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
    representation = model.representation
    trained = model.trained_model(batch_size=len(sample_paths), seed=generation["seed"])
    z = sample_latents(len(sample_paths), model.z_size, generation["seed"])
    sequences = trained.decode(z, length=window_steps(representation), temperature=generation["temperature"])
    for sequence, path in zip(sequences, sample_paths, strict=True):
        write_midi(retimed_window(sequence, generation["qpm"], representation), path)
    np.save(latents_path, z)
    return z


def retimed_window(sequence, qpm: float, representation: Mapping):
    """A decoded window at tempo `qpm`, exactly one window of the representation long (it loops)."""
    return retimed(sequence, qpm, representation["quarters_per_bar"], window_bars(representation))


def opening_window(sequence, representation: Mapping):
    """The converter's tensors for the earliest `slice_bars`-bar drum window of a performance.

    The converter de-duplicates windows through a set, so their order is lost: windows are
    cut bar by bar from the start instead, which also skips count-ins and opening gaps. Each cut
    ends half a step early, as a hit there quantizes onto the next bar and would make the
    converter return two windows.
    """
    import note_seq

    converter = make_converter(representation)
    qpm = sequence_qpm(sequence)
    step_seconds = 60.0 / qpm / representation["steps_per_quarter"]
    bar_seconds = representation["quarters_per_bar"] * 60.0 / qpm
    window_seconds = window_bars(representation) * bar_seconds
    start = 0.0
    while start + window_seconds <= sequence.total_time + bar_seconds:
        window = note_seq.sequences_lib.extract_subsequence(sequence, start, start + window_seconds - step_seconds / 2)
        tensors = converter.to_tensors(window)
        if tensors.inputs:
            return tensors
        start += bar_seconds
    raise ValueError(f"{sequence.filename or 'sequence'}: no {window_bars(representation)}-bar 4/4 drum window")


def sample_endpoints(endpoints: Mapping, latents_path) -> tuple[np.ndarray, np.ndarray]:
    """`source: samples`: the latents of two of the variant's samples (`first`, `last`: their indices)."""
    z = np.load(latents_path)
    picks = [int(endpoints["first"]), int(endpoints["last"])]
    if max(picks) >= len(z):
        raise ValueError(f"interpolation endpoints {picks} name samples beyond the {len(z)} generated")
    return z[picks[0]], z[picks[1]]


def file_endpoints(trained, paths: Sequence, representation: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """`source: files`: the encoded opening window of each MIDI file, `paths` (first, last) as the
    workflow resolved them (settings.endpoint_files)."""
    import note_seq

    sequences = [note_seq.midi_file_to_note_sequence(str(path)) for path in paths]
    return encoded_openings(trained, dict(zip(ENDPOINT_KEYS, paths, strict=True)), sequences, representation)


def dataset_endpoints(trained, endpoints: Mapping, representation: Mapping, metadata, gmd_root) -> tuple:
    """`source: dataset`: the encoded opening window of two GMD performances, by their metadata `id`."""
    rows = metadata.set_index("id")
    missing = [endpoints[key] for key in ENDPOINT_KEYS if endpoints[key] not in rows.index]
    if missing:
        raise ValueError(f"interpolation endpoints {missing} are not GMD ids in the metadata (e.g. {rows.index[0]})")
    sequences = [midi_to_note_sequence(gmd_root, rows.loc[endpoints[key], "path"]) for key in ENDPOINT_KEYS]
    return encoded_openings(trained, {key: endpoints[key] for key in ENDPOINT_KEYS}, sequences, representation)


def encoded_openings(trained, names: Mapping, sequences: Sequence, representation: Mapping) -> tuple:
    """The posterior means of the opening windows of the first and last endpoint's `sequences`; a
    sequence without a window is named by its endpoint key and `names` (its file or performance)."""
    windows = []
    for key, sequence in zip(ENDPOINT_KEYS, sequences, strict=True):
        try:
            windows.append(opening_window(sequence, representation))
        except ValueError as error:
            raise ValueError(f"{ENDPOINTS_KEY}.{key}: {names[key]}: {error}") from error
    _, mu, _ = trained.encode_tensors([w.inputs[0] for w in windows], [w.lengths[0] for w in windows])
    return mu[0], mu[1]


def endpoint_latents(trained, endpoints: Mapping, representation: Mapping, inputs: Mapping) -> tuple:
    """The two latent vectors to interpolate between, from the source `generation.interpolation.endpoints`
    names: the one place that chooses. `inputs`: the interpolation job's inputs by name, each source
    its own (rules/common.smk, interpolation_inputs): `latents`; `files`; or `metadata` and `gmd`."""
    source = endpoints["source"]
    if source == "samples":
        return sample_endpoints(endpoints, inputs["latents"])
    if source == "files":
        return file_endpoints(trained, list(inputs["files"]), representation)
    if source == "dataset":
        import pandas as pd

        from beatvae.metadata import find_gmd_root

        metadata = pd.read_parquet(inputs["metadata"])
        return dataset_endpoints(trained, endpoints, representation, metadata, find_gmd_root(inputs["gmd"]))
    raise ValueError(f"unknown interpolation endpoint source {source!r}")


def interpolate(
    trained, first_z, last_z, interpolation: Mapping, representation: Mapping, qpm: float, midi_path, step_paths
):
    """Decodes `num_steps` slerp points into one long MIDI plus one MIDI per step."""
    import note_seq

    num_steps = interpolation["num_steps"]
    z = slerp(first_z, last_z, np.linspace(0.0, 1.0, num_steps))
    steps = window_steps(representation)
    segments = trained.decode(z, length=steps, temperature=interpolation["temperature"])
    segments = [retimed_window(segment, qpm, representation) for segment in segments]
    segment_seconds = steps / representation["steps_per_quarter"] * 60.0 / qpm
    for segment, path in zip(segments, step_paths, strict=True):
        write_midi(segment, path)
    joined = note_seq.sequences_lib.concatenate_sequences(segments, [segment_seconds] * num_steps)
    write_midi(joined, midi_path)
    return z


def interpolate_variant(model_dir, generation: Mapping, midi_path, step_paths, inputs: Mapping):
    """The interpolate_beats job: endpoints as configured (`inputs`: the job's inputs by name, see
    endpoint_latents), slerp, decode, write MIDIs."""
    model = TrainedModelDir.load(model_dir)
    representation = model.representation
    interpolation = generation["interpolation"]
    trained = model.trained_model(batch_size=interpolation["num_steps"], seed=generation["seed"])
    first_z, last_z = endpoint_latents(trained, interpolation["endpoints"], representation, inputs)
    return interpolate(
        trained, first_z, last_z, interpolation, representation, generation["qpm"], midi_path, step_paths
    )
