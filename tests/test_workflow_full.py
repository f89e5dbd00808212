"""The whole DAG on the real GMD sample with a tiny variant: outputs, report, rerun semantics."""

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--workflow-profile", "none", "--cores", "2"]
AUDIO = shutil.which("fluidsynth") is not None and Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").exists()


def snakemake(workdir, config, *args, check=True):
    result = subprocess.run([*SNAKEMAKE, "--directory", str(workdir), *args, "--configfile", str(config)], capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def write_config(path, **changes):
    config = yaml.safe_load((REPO / "tests/config/smoke.yaml").read_text())
    config["audio"] = {"enabled": AUDIO}
    for dotted, value in changes.items():
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    config = write_config(workdir / "smoke.yaml")
    snakemake(workdir, config)
    return workdir, config


def test_every_output_of_the_default_target_exists(run):
    workdir, _ = run
    results = workdir / "results"
    losses = pd.read_csv(results / "losses/tiny.csv")
    assert list(losses.columns) == ["step", "loss", "reconstruction_loss", "kl_loss", "kl_bits", "accuracy", "beta", "sampling_probability", "learning_rate"]
    assert losses["step"].iloc[-1] == 20
    assert (results / "losses/tiny.png").stat().st_size > 0
    assert len(list((results / "samples/tiny").glob("sample_*.mid"))) == 2
    assert len(list((results / "interpolations/tiny").glob("step_*.mid"))) == 3
    report = json.loads((results / "eval/tiny.json").read_text())
    for split in ("validation", "test"):
        for mode in ("teacher_forced", "free_running"):
            assert 0.0 <= report["reconstruction"][split][mode]["accuracy"] <= 1.0
    assert report["memorization"]["exact_copies"] >= 0 and len(report["memorization"]["nearest_hamming"]) == 8
    assert report["real_baseline"]["nearest_hamming"]["median"] > 0 and report["targets"]["all_met"] in (True, False)
    table = pd.read_csv(results / "eval/comparison.tsv", sep="\t")
    assert table["variant"].tolist() == ["tiny"]
    assert table["target_novelty"].iloc[0] in ("met", "not met")
    assert (results / "pianorolls/tiny/interpolation.png").exists()
    if AUDIO:
        with wave.open(str(results / "audio/tiny/sample_00.wav")) as audio:
            assert audio.getnframes() / audio.getframerate() >= 8.0
    assert "first training step done" in (results / "logs/train_model/tiny.log").read_text()


def test_report_contains_every_variant_item(run):
    workdir, config = run
    snakemake(workdir, config, "--report", str(workdir / "report.html"))
    html = (workdir / "report.html").read_text(errors="replace")
    for item in ["tiny.png", "tiny.csv", "comparison.tsv", "interpolation.png", "sample_00.png", "sample_01.png"]:
        assert item in html, item
    if AUDIO:
        assert "sample_00.wav" in html


def dry_run_jobs(workdir, config):
    result = snakemake(workdir, config, "-n", "--quiet", "rules")
    return result.stdout + result.stderr


def test_nothing_to_do_after_a_finished_run(run):
    workdir, config = run
    assert "Nothing to be done" in snakemake(workdir, config, "-n").stdout


def test_generation_settings_rerun_generation_only(run, tmp_path):
    workdir, _ = run
    jobs = dry_run_jobs(workdir, write_config(tmp_path / "c.yaml", **{"generation.temperature": 0.9}))
    assert "sample_beats" in jobs and "interpolate_beats" in jobs
    assert "train_model" not in jobs and "tensorize" not in jobs


def test_variant_hparams_rerun_its_training(run, tmp_path):
    workdir, _ = run
    jobs = dry_run_jobs(workdir, write_config(tmp_path / "c.yaml", **{"variants.tiny.hparams.free_bits": 24}))
    assert "train_model" in jobs and "sample_beats" in jobs
    assert "tensorize" not in jobs and "build_metadata" not in jobs
