"""The conda environment pins the same versions as the default (.venv) environment."""

import re
import subprocess
import sys

import yaml

from conftest import REPO


def normalised(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_conda_env_pins_agree_with_constraints():
    constraints = dict(
        normalised(line).split("==", 1) for line in (REPO / "constraints.txt").read_text().split() if "==" in line
    )
    env = yaml.safe_load((REPO / "envs/magenta.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    requirements = {
        normalised(line.split("==")[0])
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    pinned = dict(normalised(spec).split("==", 1) for spec in pip)
    assert set(pinned) == requirements
    for name, version in pinned.items():
        assert constraints[name] == version, name


def test_magenta_version_is_the_same_everywhere():
    post_deploy = (REPO / "envs/magenta.post-deploy.sh").read_text()
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"magenta==([\d.]+)", post_deploy).group(1) == re.search(r"magenta==([\d.]+)", makefile).group(1)


def test_every_rule_names_its_conda_env():
    for smk in (REPO / "rules").glob("*.smk"):
        rules = re.findall(r"^rule (\w+):", smk.read_text(), flags=re.M)
        envs = re.findall(r"^    conda:\n        \"../envs/magenta.yaml\"", smk.read_text(), flags=re.M)
        assert len(rules) == len(envs), smk.name


def test_post_deploy_script_is_found_and_valid_bash():
    """Snakemake runs envs/NAME.post-deploy.sh beside envs/NAME.yaml with its shebang's interpreter."""
    script = REPO / "envs/magenta.post-deploy.sh"
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines, "a failed pip install must fail the environment's creation"
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert re.search(r"^pip install --no-deps magenta==[\d.]+$", script.read_text(), flags=re.M)


def test_conda_env_brings_what_jobs_need_besides_pip_packages():
    env = yaml.safe_load((REPO / "envs/magenta.yaml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "conda-forge" in env["channels"]
    assert f"python={sys.version_info.major}.{sys.version_info.minor}" in conda, "same Python as the tested .venv"
    # The render jobs use the FluidSynth command line; planning no longer checks the host for it.
    assert "fluidsynth" in conda


def test_profiles_keep_pythonpath_in_conda_jobs():
    """Snakemake removes PYTHONPATH inside conda environments unless told not to; the jobs import
    beatvae through the PYTHONPATH the workflow sets."""
    assert 'os.environ.update(PYTHONPATH=f"{workflow.basedir}/src")' in (REPO / "rules/common.smk").read_text()
    for profile in ("default", "slurm"):
        settings = yaml.safe_load((REPO / f"profiles/{profile}/config.yaml").read_text())
        assert settings.get("conda-not-block-search-path-envvars") is True, profile
