"""The whole DAG on the real GMD sample with a tiny variant: outputs, report, rerun semantics."""

import json
import re
import shutil
import wave
from pathlib import Path

import pandas as pd
import pytest

from conftest import SMOKE_CONFIG, run_snakemake, write_config_with
from headless_chromium import CHROMIUM, Browser
from test_workflow_settings import checkout_copy

pytestmark = pytest.mark.slow

AUDIO = shutil.which("fluidsynth") is not None and Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").exists()
SAMPLES = "samples/tiny/temp0.5-seed2018"
INTERPOLATION = "interpolations/tiny/temp0.5-seed2018"


def snakemake(workdir, config, *args, check=True, **kwargs):
    return run_snakemake(workdir, *args, configfile=config, check=check, **kwargs)


def write_config(path, **changes):
    return write_config_with(SMOKE_CONFIG, path, AUDIO, **changes)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    config = write_config(workdir / "smoke.yaml")
    result = snakemake(workdir, config)
    (workdir / "console.txt").write_text(result.stdout + result.stderr)
    return workdir, config


def test_every_output_of_the_default_target_exists(run):
    workdir, _ = run
    results = workdir / "results"
    losses = pd.read_csv(results / "losses/tiny.csv")
    training = "step loss reconstruction_loss kl_loss kl_bits accuracy beta sampling_probability learning_rate"
    validation = "loss reconstruction_loss kl_bits accuracy free_running_accuracy"
    assert list(losses.columns) == training.split() + [f"validation_{name}" for name in validation.split()]
    assert losses["step"].iloc[-1] == 20
    # Training validates at its last step at least, so the exported model's held-out loss is known.
    assert losses["validation_loss"].notna().iloc[-1], losses.tail()
    assert (results / "losses/tiny.png").stat().st_size > 0
    assert len(list((results / SAMPLES).glob("sample_*.mid"))) == 2
    assert len(list((results / INTERPOLATION).glob("step_*.mid"))) == 3
    report = json.loads((results / "eval/tiny.json").read_text())
    for split in ("validation", "test"):
        for mode in ("teacher_forced", "free_running"):
            assert 0.0 <= report["reconstruction"][split][mode]["accuracy"] <= 1.0
    assert report["memorization"]["exact_copies"] >= 0 and len(report["memorization"]["nearest_hamming"]) == 8
    assert report["real_baseline"]["nearest_hamming"]["median"] > 0 and report["targets"]["all_met"] in (True, False)
    table = pd.read_csv(results / "eval/comparison.tsv", sep="\t")
    assert table["variant"].tolist() == ["tiny"]
    assert table["target_novelty"].iloc[0] in ("met", "not met")
    # Realism first: the two-sample test and the structure figures of the samples beside real ones.
    assert list(table.columns[:3]) == ["variant", "targets_met", "target_two_sample"]
    assert set(report["realism"]["structure"]["samples"]) == set(report["realism"]["structure"]["held_out"])
    targets = pd.read_csv(results / "eval/targets.tsv", sep="\t")
    assert targets["target"].iloc[0] == "two_sample" and set(targets["variant"]) == {"tiny"}
    assert "targets" in (results / "report/beats.html").read_text().split('<section id="comparison">')[0]
    assert (results / "pianorolls/tiny/temp0.5-seed2018/interpolation.png").exists()
    if AUDIO:
        with wave.open(str(results / "audio/tiny/temp0.5-seed2018/sample_00.wav")) as audio:
            assert audio.getnframes() / audio.getframerate() >= 8.0
    assert "first training step done" in (results / "logs/train_model/tiny.log").read_text()


def test_run_ends_with_its_wall_time_and_training_speed(run):
    workdir, _ = run
    console = (workdir / "console.txt").read_text()
    assert re.search(r"this run took (\d+m )?\d+s \(wall time\)", console), console[-2000:]
    training = json.loads((workdir / "results/models/tiny/training.json").read_text())
    speed = training["steps_this_run"] / training["train_seconds_this_run"]
    assert "tiny: 20 steps in " in console and f"{speed:.2f} steps/s" in console, console[-2000:]
    # A later run that trains nothing says the model predates it.
    again = snakemake(workdir, run[1], "--forcerun", "plot_losses")
    assert "[trained before this run]" in again.stdout + again.stderr


def test_report_contains_every_variant_item(run):
    workdir, config = run
    snakemake(workdir, config, "--report", str(workdir / "report.html"))
    html = (workdir / "report.html").read_text(errors="replace")
    for item in ["tiny.png", "tiny.csv", "comparison.tsv", "interpolation.png", "sample_00.png", "sample_01.png"]:
        assert item in html, item
    if AUDIO:
        # The page plays the audio; no WAV is embedded (the rules listing may still name them).
        embedded = set(re.findall(r"data:([a-z]+/[a-z0-9.+-]+)[;,]", html))
        assert "beats.html" in html and "text/html" in embedded, sorted(embedded)
        assert not any(mime.startswith("audio/") for mime in embedded), sorted(embedded)


# Closes the <script> that Snakemake's report embeds job params in, then runs script as an image's
# onerror. No quotes: the report's JSON would escape them, and a quoted attribute fail to parse.
HOSTILE = "</script><img src=x onerror=document.title=/pwned/.source>"


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (make system-packages, as root)")
def test_report_runs_no_markup_from_the_config(run, tmp_path):
    """A description typed into the config (shared configs, --config) reaches Snakemake's report
    only as text: the report opens in a real Chromium and the payload does not run."""
    workdir = shutil.copytree(run[0], tmp_path / "work", symlinks=True)
    hostile = {"variants.tiny.description": HOSTILE, "subsets.rock-beats.description": HOSTILE}
    config = write_config(tmp_path / "hostile.yaml", **hostile)
    snakemake(workdir, config)  # the page shows the new description: it is built again
    report = workdir / "report.html"
    snakemake(workdir, config, "--report", str(report))
    with Browser() as browser:
        browser.open(report.as_uri())
        opened = browser.wait_until(
            "typeof results === 'object' && Object.keys(results).length > 0"
            " && document.querySelector('#app').textContent.includes('Listen')",
            timeout=30,
        )
        # The image fails to load at once (no file x); give its onerror time to fire.
        pwned = browser.wait_until("document.title === 'pwned'", timeout=5)
    assert not pwned, "the description's markup ran as script in Snakemake's report"
    assert opened, browser.console_errors()


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
    assert "evaluate_model" not in jobs and "compare_variants" not in jobs


def test_evaluation_temperature_reruns_evaluation_only(run, tmp_path):
    workdir, _ = run
    jobs = dry_run_jobs(workdir, write_config(tmp_path / "c.yaml", **{"evaluation.temperature": 0.9}))
    assert "evaluate_model" in jobs and "compare_variants" in jobs
    assert "sample_beats" not in jobs and "train_model" not in jobs


def test_moved_checkout_reruns_nothing(run, tmp_path):
    """The checkout and its results moved elsewhere (mtimes kept, as mv or cp -a do): nothing in
    params or inputs names where the checkout lives."""
    checkout = checkout_copy(tmp_path / "elsewhere/beatvae", keep_mtimes=True)
    workdir = shutil.copytree(run[0], tmp_path / "elsewhere/work", symlinks=True)
    result = snakemake(workdir, run[1], "-n", snakefile=checkout / "Snakefile")
    assert "Nothing to be done" in result.stdout, result.stdout + result.stderr


def test_resampling_at_another_temperature_keeps_the_earlier_samples(run, tmp_path):
    workdir = shutil.copytree(run[0], tmp_path / "work", symlinks=True)
    before = {p: p.read_bytes() for p in (workdir / "results" / SAMPLES).glob("*.mid")}
    target = "results/samples/tiny/temp0.9-seed2018/sample_01.mid"
    snakemake(workdir, run[1], target, "--config", "generation={temperature: 0.9}")
    assert {p: p.read_bytes() for p in (workdir / "results" / SAMPLES).glob("*.mid")} == before
    assert (workdir / "results/samples/tiny/temp0.9-seed2018/sample_01.mid").stat().st_size > 0


def test_interpolation_between_files_of_the_workflow_folder_from_another_directory(run, tmp_path):
    """Endpoint files resolve against the workflow folder both when checked and when read, while
    the working directory (--directory) is elsewhere."""
    workdir = shutil.copytree(run[0], tmp_path / "work", symlinks=True)
    checkout = checkout_copy(tmp_path / "checkout")
    (checkout / "grooves").mkdir()
    for index, name in enumerate(["first.mid", "last.mid"]):
        shutil.copy(workdir / "results" / SAMPLES / f"sample_{index:02d}.mid", checkout / "grooves" / name)
    endpoints = {"source": "files", "first": "grooves/first.mid", "last": "grooves/last.mid"}
    config = write_config(tmp_path / "files.yaml", **{"generation.interpolation.endpoints": endpoints})
    target = f"results/{INTERPOLATION}/interpolation.mid"
    snakemake(workdir, config, "--force", target, snakefile=checkout / "Snakefile")
    log = (workdir / "results/logs/interpolate_beats/tiny/temp0.5-seed2018.log").read_text()
    assert (workdir / target).stat().st_size > 0, log


def test_variant_hparams_rerun_its_training(run, tmp_path):
    workdir, _ = run
    jobs = dry_run_jobs(workdir, write_config(tmp_path / "c.yaml", **{"variants.tiny.hparams.free_bits": 24}))
    assert "train_model" in jobs and "sample_beats" in jobs
    assert "tensorize" not in jobs and "build_metadata" not in jobs
