"""A held-out split left without windows (here: the GMD sample's one funk validation file is a fill
shorter than a window) is said on the console at the end of the run and on the report page, naming the subset, the
split and what it costs the variants trained on it; a subset with every split filled is not named."""

import json
import re

import pytest

from beatvae.held_out import CONSEQUENCES, NO_HELD_OUT, describe_split, empty_held_out_splits
from beatvae.midi import retimed, write_midi
from beatvae.report_page import build_report_page
from conftest import REPO, SMOKE_CONFIG, output_of, run_snakemake, write_config_with

try:  # tests/ as a package or as a plain rootdir-on-sys.path directory
    from .test_midi import magenta_decoded
except ImportError:
    from test_midi import magenta_decoded

SUBSETS = {"funk": {"filters": {"style": "funk", "time_signature": "4-4"}}, "rock": {"filters": {"style": "rock"}}}
VARIANT = {"subset": "funk", "resources": {"threads": 1, "mem_mb": 2000, "runtime_min": 20}}


def trained_on(workdir, subsets):
    """held_out_windows() of the workflow for one variant per subset (named after it)."""
    return {
        subset: {
            "subset": subset,
            "representation": "drums-4bar",
            "counts": str(workdir / f"results/tensors/{subset}/drums-4bar/windows.json"),
        }
        for subset in subsets
    }


@pytest.fixture(scope="module")
def windows_run(tmp_path_factory):
    """The workflow up to each subset's window counts, with one variant on each subset."""
    workdir = tmp_path_factory.mktemp("held-out")
    variants = {subset: dict(VARIANT, subset=subset) for subset in SUBSETS}
    config = write_config_with(SMOKE_CONFIG, workdir / "c.yaml", False, subsets=SUBSETS, variants=variants)
    targets = [f"results/tensors/{subset}/drums-4bar/windows.json" for subset in SUBSETS]
    result = run_snakemake(workdir, *targets, configfile=config, cores=1, timeout=600)
    assert result.returncode == 0, output_of(result)
    return workdir, result


@pytest.mark.slow
def test_an_empty_held_out_split_is_said_on_the_console_at_the_end_of_the_run(windows_run):
    workdir, result = windows_run
    counts = json.loads((workdir / "results/tensors/funk/drums-4bar/windows.json").read_text())
    assert counts["validation"]["windows"] == 0 and counts["test"]["windows"] > 0 and counts["train"]["windows"] > 0
    rock = json.loads((workdir / "results/tensors/rock/drums-4bar/windows.json").read_text())
    assert all(rock[split]["windows"] for split in rock), rock
    warnings = re.findall(r"^WARNING: held-out split without windows: .*$", result.stderr, flags=re.M)
    assert warnings == [
        "WARNING: held-out split without windows: subset 'funk' (drums-4bar) has no validation windows: "
        f"{describe_split('validation', counts['validation'])}. Variant funk: {CONSEQUENCES['validation']}."
    ], output_of(result)
    assert "1 validation files, 0 windows (files without a window: 1 shorter than slice_bars" in warnings[0]


@pytest.mark.slow
def test_the_report_page_states_the_empty_split_and_what_it_costs(windows_run, tmp_path):
    workdir, _ = windows_run
    midi = write_midi(retimed(magenta_decoded(63), 120, num_bars=4), tmp_path / "sample_00.mid")
    (tmp_path / "comparison.tsv").write_text("variant\tkl_bits\nfunk\t1.5\nrock\t2.5\n")
    page = build_report_page(
        [{"variant": "funk", "name": "sample_00"}], [midi], None, tmp_path / "comparison.tsv",
        tmp_path / "beats.html", REPO / "report", held_out=trained_on(workdir, SUBSETS),
    )  # fmt: skip
    text = page.read_text()
    section = re.search(r'<section id="held-out">.*?</section>', text, flags=re.S)
    assert section, "no held-out section"
    items = re.findall(r"<li>(.*?)</li>", section.group(0))
    assert len(items) == 1 and "subset funk, validation split" in items[0], items
    assert "1 validation files, 0 windows" in items[0] and "trained without validation" in items[0], items
    assert "rock" not in section.group(0)
    # Every split filled: no section at all.
    page = build_report_page(
        [{"variant": "funk", "name": "sample_00"}], [midi], None, tmp_path / "comparison.tsv",
        tmp_path / "rock.html", REPO / "report", held_out=trained_on(workdir, ["rock"]),
    )  # fmt: skip
    assert 'id="held-out"' not in page.read_text()


def test_both_held_out_splits_empty_say_that_nothing_real_is_compared(tmp_path):
    # windows.json as the tensorize job writes it (dataset.WindowCount.summary) for a subset whose
    # held-out files are all in 3/4; the counts of another variant were not made (yet): skipped.
    summary = {"files": 2, "windows": 0, "repeated_windows": 0, "files_without_windows": 2, "why": {"in 3/4": 2}}
    counts = tmp_path / "windows.json"
    counts.write_text(json.dumps({"train": dict(summary, windows=40), "validation": summary, "test": summary}))
    where = {"subset": "odd", "representation": "drums-4bar", "counts": str(counts)}
    found = empty_held_out_splits(
        {"a": where, "b": where, "c": dict(where, subset="later", counts=str(tmp_path / "none.json"))}
    )
    assert [(empty.subset, empty.split, empty.variants) for empty in found] == [
        ("odd", "validation", ("a", "b")),
        ("odd", "test", ("a", "b")),
    ]
    assert all(empty.consequence().endswith(NO_HELD_OUT) for empty in found)
    assert found[1].describe() == (
        "subset 'odd' (drums-4bar) has no test windows: 2 test files, 0 windows (files without a window: "
        f"2 in 3/4). Variants a, b: {CONSEQUENCES['test']}; {NO_HELD_OUT}."
    )
