"""A mistyped or out-of-bounds config value is told in a few lines: the key, what it holds, what was
expected and a "did you mean" for a near miss, both by the function and by a real dry run (planning)."""

import copy

import pytest
import yaml

from beatvae.config_errors import config_problem
from conftest import REPO, SMOKE_CONFIG, run_snakemake

SCHEMA = yaml.safe_load((REPO / "config/schema.yaml").read_text())
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())


def problem_with(change):
    config = copy.deepcopy(DEFAULT)
    change(config)
    return config_problem(config, SCHEMA)


def test_the_default_config_has_no_problem():
    assert config_problem(copy.deepcopy(DEFAULT), SCHEMA) is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["generation"].update(num_sample=16),
            ["generation.num_sample", "did you mean generation.num_samples?"],
        ),
        (lambda c: c.update(generaton={}), ["config key generaton", "did you mean generation?"]),
        (
            lambda c: c["variants"]["v2-small"]["hparams"].update(free_bit=16),
            ["variants.v2-small.hparams.free_bit", "did you mean variants.v2-small.hparams.free_bits?"],
        ),
        (
            lambda c: c["representations"]["drums-4bar"].update(slice_bar=4),
            ["representations.drums-4bar.slice_bar", "did you mean representations.drums-4bar.slice_bars?"],
        ),
        (
            lambda c: c["variants"]["v2-small"]["hparams"].update(sampling_schedule="inverse_sigmod"),
            ["variants.v2-small.hparams.sampling_schedule", "did you mean 'inverse_sigmoid'?"],
        ),
        (lambda c: c["generation"].update(num_samples=100000), ["generation.num_samples: 100000", "maximum of 256"]),
        (lambda c: c["generation"].update(num_samples="many"), ["generation.num_samples: 'many'", "type integer"]),
        (lambda c: c["variants"]["v2-small"].pop("subset"), ["variants.v2-small", "'subset' is a required"]),
    ],
)
def test_a_bad_value_names_its_key_what_was_expected_and_the_near_miss(change, expected):
    message = problem_with(change)
    assert all(part in message for part in expected), message
    assert len(message.splitlines()) <= 7 and "config/schema.yaml" in message


def test_many_unknown_keys_stay_within_seven_lines():
    message = problem_with(lambda c: c["generation"].update(alpha=1, beta=2, gamma=3, delta=4))
    assert "generation.alpha" in message and "and 2 more: delta, gamma" in message, message
    assert len(message.splitlines()) <= 7, message


def test_a_value_with_no_near_miss_gets_no_guess():
    message = problem_with(lambda c: c["generation"].update(zebra=1))
    assert "generation.zebra" in message and "did you mean" not in message, message


@pytest.mark.snakemake
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("generation={num_sample: 16}", "did you mean generation.num_samples?"),
        ("generation={temperature: hot}", "generation.temperature: 'hot' is not of type number"),
    ],
)
def test_planning_refuses_a_typo_in_at_most_ten_lines(tmp_path, override, expected):
    result = run_snakemake(tmp_path, "-n", "--config", override, configfile=SMOKE_CONFIG, timeout=120)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert expected in output, output
    assert len(output.splitlines()) <= 10, output
