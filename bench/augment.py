"""Beat-keeping augmentations of the rock training windows (issue 22, item 3): the same performances
with their ghost notes dropped, or with the hi-hat played on the ride, converted by the workflow's
own converter and de-duplicated as the workflow does.

    .venv/bin/python bench/augment.py NAME '{"ghost_below": 40, "keep_original": true}'
        # -> bench/work/augment/NAME/train.npz, then
    .venv/bin/python bench/realism_curve.py train NAME '{"train_windows": "bench/work/augment/NAME/train.npz"}'

Settings: `ghost_below` (drop snare-class notes softer than this velocity), `hat_on_ride` (closed
hi-hat notes move to the ride), `keep_original` (the augmented copies are added to the original
windows rather than replacing them), `add_hat_ride_swaps` (the augmented performances plus copies of
them in which the closed hi-hat and the ride trade places, both ways: twice the windows, the same
beats on the other time-keeper). Reads results/tfrecord/<subset>/train.tfrecord (the workflow's).
"""

from __future__ import annotations

import copy
import json
import sys

from common import REPO, WORK, load_config

REPRESENTATION = "drums-4bar"


def with_pitches_moved(sequence, moves: dict[int, int]):
    """A copy of `sequence` with each note whose pitch is a key of `moves` on that key's value."""
    result = copy.deepcopy(sequence)
    for note in result.notes:
        note.pitch = moves.get(note.pitch, note.pitch)
    return result


def hat_ride_swapped(sequence):
    """A copy of `sequence` with closed hi-hat notes on the ride and ride notes on the closed hi-hat."""
    from beatvae.metrics import DRUM_PITCH_CLASSES

    closed_hat, ride = DRUM_PITCH_CLASSES[2], DRUM_PITCH_CLASSES[8]
    result = with_pitches_moved(sequence, {**dict.fromkeys(closed_hat, ride[0]), **dict.fromkeys(ride, closed_hat[0])})
    result.id += "-swapped"
    return result


def augmented(sequence, ghost_below: int = 0, hat_on_ride: bool = False):
    """A copy of `sequence` with the snare's ghost notes dropped (as the workflow's
    `drop_training_ghost_notes_below` does) and/or the closed hi-hat on the ride."""
    from beatvae.dataset import without_ghost_notes
    from beatvae.metrics import DRUM_PITCH_CLASSES

    closed_hat, ride = DRUM_PITCH_CLASSES[2], DRUM_PITCH_CLASSES[8]
    moves = dict.fromkeys(closed_hat, ride[0]) if hat_on_ride else {}
    return with_pitches_moved(without_ghost_notes(sequence, ghost_below), moves)


def build(name: str, settings: dict) -> None:
    from beatvae.dataset import make_converter, read_note_sequences, windows_from_note_sequences
    from beatvae.realism import structure
    from beatvae.settings import window_steps

    config = load_config()
    representation = config["representations"][REPRESENTATION]
    subset = config["variants"]["v2-small"]["subset"]
    sequences = list(read_note_sequences(REPO / "results" / "tfrecord" / subset / "train.tfrecord"))
    options = {key: settings[key] for key in ("ghost_below", "hat_on_ride") if key in settings}
    changed = [augmented(sequence, **options) for sequence in sequences]
    for sequence in changed:
        sequence.id += "-augmented"  # its windows stay apart from the original's in the windows' sources
    inputs = (sequences + changed) if settings.get("keep_original") else changed
    if settings.get("add_hat_ride_swaps"):
        inputs += [hat_ride_swapped(sequence) for sequence in inputs]
    windows = windows_from_note_sequences(inputs, make_converter(representation), window_steps(representation))
    out = WORK / "augment" / name
    out.mkdir(parents=True, exist_ok=True)
    windows.save(out / "train.npz")
    figures = {"settings": settings, "windows": len(windows), "structure": structure(windows.drum_rolls())}
    (out / "windows.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))


if __name__ == "__main__":
    build(sys.argv[1], json.loads(sys.argv[2]))
