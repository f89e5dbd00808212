"""The vendored corpora and what the data stages do with bad inputs, kills and leftovers."""

import csv
import io
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from beatvae.download import resolve_url, sha256_of

REPO = Path(__file__).resolve().parents[1]
FULL = REPO / "data/gmd-full/groove-v1.0.0-midionly.zip"
SAMPLE = REPO / "data/gmd-sample/groove-v1.0.0-midionly-sample.zip"
AUTHORS = "Jon Gillick, Adam Roberts, Jesse Engel, Douglas Eck and David Bamman"


# ---------------------------------------------------------------- the vendored corpora


def test_default_config_reads_the_vendored_whole_gmd():
    gmd = yaml.safe_load((REPO / "config/config.yaml").read_text())["gmd"]
    assert resolve_url(gmd["url"], REPO) == FULL.as_uri(), "the default corpus must live inside the checkout"
    assert sha256_of(FULL) == gmd["sha256"] == "5ba772a766c49671d558eb728d70f7456d15d6c81148171878203789a0f7d5b1"
    with zipfile.ZipFile(FULL) as archive, archive.open("groove/info.csv") as handle:
        rows = list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8")))
        midi = [name for name in archive.namelist() if name.lower().endswith((".mid", ".midi"))]
    assert len(rows) == len(midi) == 1150
    assert Counter(row["split"] for row in rows) == {"train": 897, "validation": 124, "test": 129}
    assert Counter(row["beat_type"] for row in rows) == {"beat": 503, "fill": 647}


def test_configs_never_point_outside_the_checkout():
    for config in [*REPO.glob("config/*.yaml"), *REPO.glob("tests/config/*.yaml")]:
        gmd = yaml.safe_load(config.read_text()).get("gmd", {})
        url = gmd.get("url", "")
        assert "shared" not in url, f"{config}: gmd.url {url} reads outside the project"
        if "://" not in url and url:
            assert (REPO / url).resolve().is_relative_to(REPO), f"{config}: gmd.url {url} is outside the checkout"
            assert (REPO / url).is_file(), f"{config}: gmd.url {url} does not exist"


@pytest.mark.parametrize("readme", ["data/gmd-full/README.md", "data/gmd-sample/README.md", "README.md"])
def test_attribution_names_the_real_authors(readme):
    text = " ".join((REPO / readme).read_text().split())
    assert AUTHORS in text, readme
    assert "CC BY 4.0" in text and "Norouzi" not in text, readme


def test_no_tracked_file_credits_the_wrong_author():
    tracked = subprocess.run(["git", "grep", "-l", "Norouzi", "--", ":!tests/test_data_integrity.py"], cwd=REPO, capture_output=True, text=True)
    assert tracked.stdout == "", tracked.stdout
