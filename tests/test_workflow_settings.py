"""What the workflow decides while planning (dry runs, a few seconds each): the config it reads and
how it types `--config` overrides, where generated outputs go, which settings fail before any job,
and that planning needs nothing of the project but the standard-library settings module."""

import ast
import copy
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from beatvae.settings import SettingsError, check_interpolation, sampling_tag
from conftest import REPO, SMOKE_CONFIG, output_of, run_snakemake, write_drum_midi

SMOKE = yaml.safe_load(SMOKE_CONFIG.read_text())


def write_config(path, **changes):
    """The smoke config with dotted-key changes, e.g. **{"generation.num_samples": 3}."""
    config = yaml.safe_load(SMOKE_CONFIG.read_text())
    for dotted, value in changes.items():
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def dry_run(workdir, *args, **kwargs):
    workdir.mkdir(parents=True, exist_ok=True)
    return run_snakemake(workdir, "-n", *args, timeout=120, **kwargs)


def planned_outputs(result):
    """Every output file a dry run lists."""
    lines = re.findall(r"^\s+output: (.*)$", result.stdout, flags=re.M)
    return {path for line in lines for path in line.split(", ")}


def checkout_copy(destination, keep_mtimes=False):
    """A copy of this checkout's files: as a fresh clone has them (new mtimes), or as moved."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            (shutil.copy2 if keep_mtimes else shutil.copy)(source, destination / name)
    return destination


# ---------------------------------------------------------------- planning needs only Snakemake


def imported_modules(source):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


# The project's modules that planning imports (the workflow's, and theirs): standard library only.
PLANNING_MODULES = {
    "beatvae.settings",
    "beatvae.held_out",
    "beatvae.run_summary",
    "beatvae.smf",
    "beatvae.config_errors",
}
# What planning may import beside the standard library: Snakemake's own dependencies (a config error
# is described with the jsonschema that Snakemake validated the config with).
SNAKEMAKE_DEPENDENCIES = {"jsonschema"}


def test_workflow_imports_nothing_of_the_project_but_its_planning_modules():
    # Snakefiles are Python plus directives; their import lines are plain Python.
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        imports = re.findall(r"^\s*(?:from\s+(\S+)\s+import|import\s+(\S+))", path.read_text(), flags=re.M)
        project = {a or b for a, b in imports if (a or b).split(".")[0] == "beatvae"}
        assert project <= PLANNING_MODULES, (path.name, project)
        assert "check_audio_tools" not in path.read_text(), path.name


def test_planning_modules_are_standard_library_only():
    """Each planning module (and the package's __init__, which any import of it runs first) imports
    only the standard library and other planning modules."""
    for module in ("beatvae", *PLANNING_MODULES):
        source = REPO / "src" / (module.replace(".", "/") + ("/__init__.py" if module == "beatvae" else ".py"))
        imported = set(imported_modules(source.read_text()))
        project = {name for name in imported if name.split(".")[0] == "beatvae"}
        assert project <= PLANNING_MODULES, (module, project)
        top_level = {name.split(".")[0] for name in imported - project}
        assert top_level - {"__future__"} <= set(sys.stdlib_module_names) | SNAKEMAKE_DEPENDENCIES, (module, top_level)


@pytest.mark.snakemake
def test_dry_run_needs_no_fluidsynth_or_soundfont(tmp_path):
    config = write_config(tmp_path / "c.yaml", audio={"enabled": True, "soundfont": str(tmp_path / "none.sf2")})
    # PATH without FluidSynth: this interpreter's folder only (Snakemake needs `which` and a shell).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("which", "sh", "bash", "git", "uname"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{bin_dir}")
    result = dry_run(tmp_path / "work", configfile=config, env=env)
    assert result.returncode == 0, output_of(result)
    assert "render_audio" in result.stdout, output_of(result)


@pytest.mark.snakemake
def test_use_conda_without_keeping_pythonpath_fails_while_planning_naming_the_flag(tmp_path):
    """Inside conda envs Snakemake drops PYTHONPATH, through which jobs import beatvae."""
    result = dry_run(tmp_path / "work", "--use-conda", configfile=SMOKE_CONFIG)
    assert result.returncode != 0
    assert "--use-conda needs --conda-not-block-search-path-envvars" in result.stdout + result.stderr, output_of(result)
    # With the flag, planning passes (here it then stops where conda is not installed).
    result = dry_run(tmp_path / "work", "--use-conda", "--conda-not-block-search-path-envvars", configfile=SMOKE_CONFIG)
    assert "--use-conda needs" not in result.stdout + result.stderr, output_of(result)
    if shutil.which("conda"):
        assert result.returncode == 0, output_of(result)


@pytest.mark.slow
def test_fresh_venv_with_only_snakemake_parses_lints_and_dry_runs(tmp_path):
    """.ci/check-plain-snakemake.sh: a new venv with only snakemake + the SLURM plugin (from the
    package index, so this needs one; about a minute)."""
    result = subprocess.run(
        [str(REPO / ".ci/check-plain-snakemake.sh"), str(tmp_path / "venv")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, output_of(result)
    assert "pass with only snakemake==" in result.stdout, output_of(result)


# ---------------------------------------------------------------- config from the command line


@pytest.mark.snakemake
def test_config_override_merges_over_the_default_config_with_types(tmp_path):
    result = dry_run(tmp_path / "work", "--config", "generation={num_samples: 16, temperature: 0.8}")
    assert result.returncode == 0, output_of(result)
    outputs = planned_outputs(result)
    # The default config's beat variants are still there, and 16 samples at the new temperature.
    default = yaml.safe_load((REPO / "config/config.yaml").read_text())
    beat_variants = [
        name
        for name, variant in default["variants"].items()
        if default["representations"][variant["representation"]]["converter"] == "DrumsConverter"
    ]
    assert beat_variants
    for variant in beat_variants:
        assert f"results/samples/{variant}/temp0.8-seed2018/sample_15.mid" in outputs, outputs
        assert f"results/samples/{variant}/temp0.8-seed2018/sample_16.mid" not in outputs
        # the interpolation keeps its own temperature
        assert f"results/interpolations/{variant}/temp0.5-seed2018/interpolation.mid" in outputs


@pytest.mark.snakemake
def test_config_override_over_a_configfile(tmp_path):
    result = dry_run(
        tmp_path / "work", "--config", "generation={seed: 3, interpolation: {temperature: 1}}", configfile=SMOKE_CONFIG
    )
    assert result.returncode == 0, output_of(result)
    outputs = planned_outputs(result)
    assert "results/samples/tiny/temp0.5-seed3/sample_01.mid" in outputs, outputs
    assert "results/interpolations/tiny/temp1-seed3/step_02.mid" in outputs, outputs


@pytest.mark.snakemake
def test_config_override_of_the_wrong_type_names_the_key(tmp_path):
    result = dry_run(tmp_path / "work", "--config", "generation={num_samples: many}", configfile=SMOKE_CONFIG)
    assert result.returncode != 0
    assert "num_samples" in result.stdout + result.stderr and "many" in result.stdout + result.stderr, output_of(result)


@pytest.mark.snakemake
def test_config_override_that_is_not_yaml_names_the_key_and_shows_the_value(tmp_path):
    result = dry_run(tmp_path / "work", "--config", "generation={num_samples: 16", configfile=SMOKE_CONFIG)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "--config generation='{num_samples: 16' is not valid YAML" in output, output_of(result)
    assert "not of type" not in output, output_of(result)


# ---------------------------------------------------------------- sizes are bounded (issue 19 item 5)

SCHEMA = yaml.safe_load((REPO / "config/schema.yaml").read_text())
# Not sizes: seeds, and interpolation endpoint indices (checked against num_samples while planning).
UNBOUNDED_INTEGERS = {"seed", "first", "last"}


def integer_properties(node, path=()):
    """(dotted path, schema) of every integer-typed property of the schema."""
    if isinstance(node, dict):
        types = node.get("type")
        if path and (types == "integer" or (isinstance(types, list) and "integer" in types)):
            yield ".".join(path), node
        for key, child in node.items():
            yield from integer_properties(child, (*path, key) if key not in ("properties", "$defs") else path)
    elif isinstance(node, list):
        for child in node:
            yield from integer_properties(child, path)


def test_every_integer_a_user_types_has_a_maximum_with_its_reason():
    found = dict(integer_properties(SCHEMA))
    assert "generation.num_samples" in found and "rnn_sizes.items" in found, sorted(found)
    unbounded = [
        path for path, node in found.items() if "maximum" not in node and path.split(".")[-1] not in UNBOUNDED_INTEGERS
    ]
    assert not unbounded, f"integers without a maximum in config/schema.yaml: {unbounded}"
    # The costly ones say what a large value costs.
    for path in ("generation.num_samples", "generation.interpolation.num_steps", "evaluation.num_samples"):
        assert "description" in found[path], path


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("generation.num_samples", 100_000),
        ("generation.interpolation.num_steps", 10_000),
        ("generation.qpm", 0.001),
        ("evaluation.num_samples", 10**7),
        ("evaluation.batch_size", 10**7),
        ("variants.tiny.hparams.batch_size", 10**7),
        ("variants.tiny.training.num_steps", 10**9),
        ("audio.sample_rate", 10**7),
    ],
)
def test_sizes_past_their_bound_fail_validation_naming_the_key(tmp_path, dotted, value):
    import jsonschema

    config = yaml.safe_load(write_config(tmp_path / "c.yaml", **{dotted: value}).read_text())
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(config))
    assert [".".join(map(str, error.absolute_path)) for error in errors] == [dotted], [e.message for e in errors]


@pytest.mark.snakemake
def test_too_many_samples_fail_while_planning_at_once_naming_the_key(tmp_path):
    """100,000 samples used to plan for over 12 minutes before writing 140 GB of WAV."""
    started = time.monotonic()
    result = dry_run(tmp_path / "work", "--config", "generation={num_samples: 100000}", configfile=SMOKE_CONFIG)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "generation.num_samples: 100000 is greater than the maximum of 256" in output, output_of(result)
    assert elapsed < 60, f"took {elapsed:.0f} s to refuse"


def test_sampling_tag_names_the_settings_once():
    assert sampling_tag(0.5, 2018) == "temp0.5-seed2018"
    assert sampling_tag(1, 7) == sampling_tag(1.0, 7) == "temp1-seed7"


# ---------------------------------------------------------------- settings that fail before any job


@pytest.mark.snakemake
@pytest.mark.parametrize(
    "endpoints, named",
    [
        ({"source": "samples", "first": 0, "last": 2}, "generation.interpolation.endpoints.last"),
        ({"source": "samples", "first": "zero", "last": 1}, "generation.interpolation.endpoints.first"),
        ({"source": "dataset", "first": "drummer1/session1/201", "last": "drummer1-session1-5"}, "endpoints.last"),
        ({"source": "files", "first": "no/such/first.mid", "last": "no/such/last.mid"}, "endpoints.first"),
    ],
    ids=["sample-index-beyond-num_samples", "sample-index-not-a-number", "not-a-gmd-id", "missing-file"],
)
def test_bad_interpolation_endpoints_fail_while_planning_naming_the_key(tmp_path, endpoints, named):
    config = write_config(tmp_path / "c.yaml", **{"generation.interpolation.endpoints": endpoints})
    result = dry_run(tmp_path / "work", configfile=config)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output_of(result)
    assert named in output and "SettingsError" in output, output_of(result)
    assert "Job stats" not in output


@pytest.mark.snakemake
def test_dataset_endpoint_missing_from_the_archive_fails_while_planning(tmp_path):
    # Shaped like a GMD id, but the sample holds no drummer1/session1/999: known before any job runs.
    endpoints = {"source": "dataset", "first": "drummer1/session1/103", "last": "drummer1/session1/999"}
    config = write_config(tmp_path / "c.yaml", **{"generation.interpolation.endpoints": endpoints})
    result = dry_run(tmp_path / "work", configfile=config)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output_of(result)
    assert "endpoints.last" in output and "drummer1/session1/999" in output and "SettingsError" in output, output
    endpoints["last"] = "drummer1/session1/114"
    config = write_config(tmp_path / "c.yaml", **{"generation.interpolation.endpoints": endpoints})
    assert dry_run(tmp_path / "work", configfile=config).returncode == 0


def test_good_dataset_ids_pass():
    generation = {
        "num_samples": 2,
        "interpolation": {
            "endpoints": {"source": "dataset", "first": "drummer5/eval_session/3", "last": "drummer10/session1/2"}
        },
    }
    check_interpolation(generation, REPO)
    generation["interpolation"]["endpoints"]["last"] = "drummer10/session1"
    with pytest.raises(SettingsError, match="endpoints.last"):
        check_interpolation(generation, REPO)


@pytest.mark.snakemake
def test_endpoint_files_resolve_against_the_workflow_folder_from_any_directory(tmp_path):
    checkout = checkout_copy(tmp_path / "checkout")
    for name in ("a.mid", "b.mid"):
        write_drum_midi(checkout / "grooves" / name)  # read while planning: a real 4-bar drum file
    endpoints = {"source": "files", "first": "grooves/a.mid", "last": "grooves/b.mid"}
    config = write_config(tmp_path / "c.yaml", **{"generation.interpolation.endpoints": endpoints})
    result = dry_run(tmp_path / "elsewhere/work", configfile=config, snakefile=checkout / "Snakefile")
    assert result.returncode == 0, output_of(result)
    interpolation = result.stdout[result.stdout.index("rule interpolate_beats:") :]
    inputs = re.search(r"^\s+input: (.*)$", interpolation, flags=re.M).group(1).split(", ")
    resolved = {Path(tmp_path / "elsewhere/work", path).resolve() for path in inputs}
    assert {checkout / "grooves/a.mid", checkout / "grooves/b.mid"} <= resolved, inputs


# ---------------------------------------------------------------- results of several configs


@pytest.mark.snakemake
def test_results_of_another_dataset_are_refused_with_a_clear_message(tmp_path):
    workdir = tmp_path / "work"
    (workdir / "results/download").mkdir(parents=True)
    (workdir / "results/download/gmd.zip").write_bytes(b"another config's archive")
    result = dry_run(workdir, configfile=SMOKE_CONFIG)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "belongs to another config" in output and "--directory" in output, output_of(result)
    shutil.copy(REPO / SMOKE["gmd"]["url"], workdir / "results/download/gmd.zip")
    assert dry_run(workdir, configfile=SMOKE_CONFIG).returncode == 0


def test_readme_report_command_names_the_config():
    readme = (REPO / "README.md").read_text()
    commands = [line for line in readme.splitlines() if "--report" in line and "snakemake" in line]
    assert commands and all("--configfile" in line for line in commands), commands


# ---------------------------------------------------------------- init_from and num_steps, checked while planning


def with_second_variant(path, **changes):
    """The smoke config plus `tiny2`, a copy of its variant, with dotted-key changes."""
    variants = {name: copy.deepcopy(SMOKE["variants"]["tiny"]) for name in ("tiny", "tiny2")}
    return write_config(path, variants=variants, **changes)


@pytest.mark.snakemake
def test_init_from_cycle_fails_while_planning_naming_the_variants_and_the_key(tmp_path):
    config = with_second_variant(
        tmp_path / "c.yaml",
        **{"variants.tiny.training.init_from": "tiny2", "variants.tiny2.training.init_from": "tiny"},
    )
    result = dry_run(tmp_path / "work", configfile=config)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output_of(result)
    assert "SettingsError" in output and "variants.tiny.training.init_from" in output, output_of(result)
    assert "tiny -> tiny2 -> tiny" in output, output_of(result)


def test_init_from_cycles_are_found_at_any_length_and_chains_pass():
    from beatvae.settings import check_init_from_cycles

    def variants(**sources):
        return {name: {"training": {"init_from": source}} for name, source in sources.items()}

    check_init_from_cycles(variants(a=None, b="a", c="b"))
    with pytest.raises(SettingsError, match=r"variants.b.training.init_from: the variants b -> c -> d -> b "):
        check_init_from_cycles(variants(a="b", b="c", c="d", d="b"))


@pytest.mark.snakemake
def test_init_from_of_another_model_shape_fails_while_planning_naming_both_variants_and_the_keys(tmp_path):
    config = with_second_variant(
        tmp_path / "c.yaml", **{"variants.tiny2.training.init_from": "tiny", "variants.tiny2.hparams.z_size": 8}
    )
    result = dry_run(tmp_path / "work", configfile=config)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output_of(result)
    assert "SettingsError" in output and "variants.tiny2.training.init_from" in output, output_of(result)
    assert "hparams.z_size (tiny: 16, tiny2: 8)" in output, output_of(result)
    # Settings that leave the weights' shapes alone may differ: the fine-tuned variant plans.
    config = with_second_variant(
        tmp_path / "c.yaml",
        **{
            "variants.tiny2.training.init_from": "tiny",
            "variants.tiny2.hparams.learning_rate": 0.0001,
            "variants.tiny2.model.level_lengths": [16, 4],
        },
    )
    result = dry_run(tmp_path / "work", configfile=config)
    assert result.returncode == 0, output_of(result)


@pytest.mark.slow
def test_num_steps_below_the_trained_checkpoints_fails_while_planning_unless_the_settings_changed(tmp_path):
    """A real training job leaves checkpoints at step 20; fewer steps would only fail in the job,
    after Snakemake removed the model folder. With changed settings the job starts over: no error."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    run_snakemake(workdir, "results/models/tiny", configfile=SMOKE_CONFIG, check=True)
    fewer = write_config(tmp_path / "fewer.yaml", **{"variants.tiny.training.num_steps": 10})
    result = dry_run(workdir, configfile=fewer)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output_of(result)
    assert "SettingsError" in output and "variants.tiny.training.num_steps is 10" in output, output_of(result)
    assert "checkpoint at step 20" in output, output_of(result)
    assert (workdir / "results/models/tiny/training.json").exists()

    changed = write_config(
        tmp_path / "changed.yaml", **{"variants.tiny.training.num_steps": 10, "variants.tiny.hparams.z_size": 8}
    )
    result = dry_run(workdir, configfile=changed)
    assert result.returncode == 0 and "train_model" in result.stdout, output_of(result)


@pytest.mark.snakemake
def test_with_v1_config_adds_v1_beside_the_default_variants_with_v2s_recipe(tmp_path):
    result = dry_run(tmp_path, "--configfile", REPO / "config/config.yaml", REPO / "config/with-v1.yaml")
    assert result.returncode == 0, output_of(result)
    trained = set(re.findall(r"^\s+output: results/models/(\S+)$", result.stdout, flags=re.M))
    default = yaml.safe_load((REPO / "config/config.yaml").read_text())["variants"]
    assert trained == {*default, "v1-small"}, trained
    v1 = yaml.safe_load((REPO / "config/with-v1.yaml").read_text())["variants"]["v1-small"]
    for section in ("model", "hparams"):
        assert v1[section] == default["v2-small"][section], section
    for key in ("num_steps", "max_minutes"):
        assert v1["training"][key] == default["v2-small"]["training"][key], key


def test_full_steps_config_lifts_the_default_time_limit_and_changes_nothing_else():
    import copy

    from snakemake.utils import update_config

    default = yaml.safe_load((REPO / "config/config.yaml").read_text())
    merged = copy.deepcopy(default)
    update_config(merged, yaml.safe_load((REPO / "config/full-steps.yaml").read_text()))
    limited = {name for name, variant in default["variants"].items() if variant["training"].get("max_minutes")}
    assert limited == {"v2-small", "groove-small"}, "the file names every variant that has a time limit"
    for name in limited:
        assert merged["variants"][name]["training"].pop("max_minutes") is None
        assert default["variants"][name]["training"].pop("max_minutes") == 10
    assert merged == default


@pytest.mark.snakemake
def test_the_page_says_what_the_training_windows_leave_out_of_the_playing(tmp_path):
    import json

    target = "results/report/descriptions.json"
    default = yaml.safe_load((REPO / "config/config.yaml").read_text())
    below = default["representations"]["drums-4bar"]["drop_training_ghost_notes_below"]
    assert below, "config.yaml no longer drops ghost notes: this test needs another setting to read"
    for name in ("default", "as-played"):
        (tmp_path / name).mkdir()
    run_snakemake(tmp_path / "default", target, check=True)
    described = json.loads((tmp_path / "default" / target).read_text())["descriptions"]["v2-small"]
    assert described.startswith(default["variants"]["v2-small"]["description"] + "; "), described
    assert f"ghost notes (snare hits below velocity {below})" in described, described

    as_played = "representations={drums-4bar: {drop_training_ghost_notes_below: 0}}"
    run_snakemake(tmp_path / "as-played", target, "--config", as_played, check=True)
    described = json.loads((tmp_path / "as-played" / target).read_text())["descriptions"]["v2-small"]
    assert described == default["variants"]["v2-small"]["description"]
