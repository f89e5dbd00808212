"""Child-process entry points for the training tests, run as the Snakemake job runs them:

    python -m training_job train VARIANT_JSON REPRESENTATION_JSON TRAIN_NPZ CHECKPOINT_DIR MODEL_DIR \
        [VALIDATION_NPZ|- [INIT_FROM]]
    python -m training_job encode MODEL_DIR WINDOWS_NPZ COUNT

(with tests/ and src/ on PYTHONPATH). Each prints one line `RESULT <json>` on success.
"""

import json
import logging
import sys


def train(variant_json, representation_json, train_npz, checkpoint_dir, model_dir, validation_npz="-", init_from=None):
    from beatvae.training import TrainingRun, train_variant

    run = TrainingRun(
        json.loads(variant_json),
        json.loads(representation_json),
        train_npz,
        checkpoint_dir,
        model_dir,
        validation_windows=None if validation_npz == "-" else validation_npz,
        init_from=init_from,
        name="test",
        threads=2,
    )
    return train_variant(run)


def encode(model_dir, windows_npz, count):
    """Loads an exported model in a fresh process and encodes `count` windows: latent shape and size."""
    import numpy as np

    from beatvae.dataset import Windows
    from beatvae.model import TrainedModelDir

    trained = TrainedModelDir.load(model_dir).trained_model(batch_size=int(count), seed=0)
    windows = Windows.load(windows_npz)
    _, mu, _ = trained.encode_tensors(list(windows.inputs[: int(count)]), list(windows.lengths[: int(count)]))
    return {"shape": list(mu.shape), "abs_sum": float(np.abs(mu).sum())}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    command, *args = sys.argv[1:]
    result = {"train": train, "encode": encode}[command](*args)
    print("RESULT", json.dumps(result, default=str), flush=True)
