"""Snakemake's report captions (report/*.rst) state the bar counts of the config they are made
with, rendered as Snakemake renders them (Jinja, then reStructuredText)."""

import types

import yaml
from docutils.core import publish_parts
from jinja2 import Environment
from snakemake.utils import validate

from conftest import REPO

# As snakemake.report renders captions.
JINJA = Environment(trim_blocks=True, lstrip_blocks=True)


def rendered(caption, **snakemake):
    template = JINJA.from_string((REPO / "report" / caption).read_text())
    text = template.render(snakemake=types.SimpleNamespace(**snakemake))
    html = publish_parts(text, writer="html")["html_body"]
    return " ".join(html.split())


def default_config(**representation):
    """config/config.yaml with schema defaults filled in, its drum representation changed."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["representations"]["drums-4bar"].update(representation)
    validate(config, str(REPO / "config/schema.yaml"), set_default=True)
    return config


def beat_variants(config):
    return [name for name, v in config["variants"].items() if v["representation"] == "drums-4bar"]


def test_workflow_description_states_each_beat_variants_window_length():
    for bars in (4, 2):
        config = default_config(slice_bars=bars)
        html = rendered("workflow.rst", config=config)
        for variant in beat_variants(config):
            assert f"{variant}: {bars} bars" in html, html
        assert "4-bar" not in html


def test_piano_roll_caption_states_the_interpolation_step_length():
    for bars in (4, 2):
        html = rendered(
            "pianoroll.rst",
            params=types.SimpleNamespace(segment_bars={"interpolation": bars}),
            wildcards=types.SimpleNamespace(variant="v2"),
        )
        assert f"{bars}-bar steps" in html, html
