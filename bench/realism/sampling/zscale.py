"""Scratch check kept with its figures: realism of one checkpoint with the prior's z scaled and at other
decoder temperatures (one seed each). Usage: zscale.py POINT_DIR STEP SCALES TEMPERATURES [SEEDS]
(comma-separated), run with bench/ on PYTHONPATH; writes its JSON to the working directory."""

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from beatvae.model import TrainedModelDir, sample_latents
from beatvae.settings import window_steps
from realism_curve import judge, rolls_and_sources, windows

point = Path(sys.argv[1])
step = int(sys.argv[2])
SEEDS = [int(x) for x in (sys.argv[5] if len(sys.argv) > 5 else "2018").split(",")]
model = TrainedModelDir.load(point / "model")
model = dataclasses.replace(model, checkpoint=str(point / "checkpoints" / f"model.ckpt-{step}"))
train = rolls_and_sources(windows("v2", "train"))
held = rolls_and_sources(windows("v2", "validation"), windows("v2", "test"))
out = []
for seed in SEEDS:
    trained = model.trained_model(batch_size=64, seed=seed)
    for scale in [float(x) for x in sys.argv[3].split(",")]:
        for temp in [float(x) for x in sys.argv[4].split(",")]:
            z = sample_latents(256, model.z_size, seed) * scale
            o = trained.decode_to_tensors(z, length=window_steps(model.representation), temperature=temp)
            labels = np.argmax(np.asarray(o), axis=-1)
            s = ((labels[..., None] >> np.arange(9)) & 1).astype(bool)
            r = judge(s, train, held, seed)
            st = r["structure"]["samples"]
            print(
                point.name,
                step,
                "seed",
                seed,
                "z",
                scale,
                "T",
                temp,
                "acc {:.3f}".format(r["two_sample"]["accuracy"]),
                " ".join(f"{k} {st[k]:.3f}" for k in ["clean_backbeat", "bar_change", "fill", "steady_pulse"]),
                f"npb {r['notes_per_bar']:.1f} nn {r['median_nearest_hamming']:.0f} cp {r['exact_copies']}",
                flush=True,
            )
            out.append({"seed": seed, "scale": scale, "temperature": temp, **r})
Path(f"{point.name}-{step}-{sys.argv[3]}-{sys.argv[4]}-{len(SEEDS)}.json").write_text(json.dumps(out, default=str))
