"""The conda environment pins the same versions as the default (.venv) environment."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def normalised(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_conda_env_pins_agree_with_constraints():
    constraints = dict(normalised(line).split("==", 1) for line in (REPO / "constraints.txt").read_text().split() if "==" in line)
    env = yaml.safe_load((REPO / "envs/magenta.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    requirements = {normalised(line.split("==")[0]) for line in (REPO / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")}
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
