"""docs/ARCHITECTURE.md stays true: its table names rules, scripts and modules that exist and call
each other as it says, every rule of the workflow has a row, and its picture is the workflow's
rule graph."""

import re
from pathlib import Path

import pytest

from conftest import REPO, output_of, run_snakemake

ARCHITECTURE = REPO / "docs/ARCHITECTURE.md"
RULE_FILES = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
RULE_START = re.compile(r"^(?:use rule (?P<used>\w+) as (?P<reuse>\w+) with:|rule (?P<name>\w+):)", re.M)
NONE = "—"


def table_rows():
    """[{stage, rule file, rule, script, module, outputs}]: the rows of the stage table, code marks removed."""
    lines = ARCHITECTURE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| stage | rule file | rule |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        row = dict(zip(header, cells, strict=True))
        for key in ("rule file", "rule", "script", "module"):
            row[key] = row[key].strip("`")
        rows.append(row)
    return rows


def indented_body(text, start):
    """The rule's directives: the indented lines after its first line."""
    lines = []
    for line in text[start:].splitlines()[1:]:
        if line.strip() and not line[0].isspace():
            break
        lines.append(line)
    return "\n".join(lines)


def workflow_rules():
    """{rule: (rule file relative to the repository, script relative to it or None)}, `use rule` followed."""
    found, reused = {}, {}
    for path in RULE_FILES:
        text = path.read_text()
        for match in RULE_START.finditer(text):
            if match["reuse"]:
                reused[match["reuse"]] = (path, match["used"])
                continue
            script = re.search(r'^\s+script:\s*\n\s+"([^"]+)"', indented_body(text, match.start()), re.M)
            resolved = (path.parent / script[1]).resolve().relative_to(REPO).as_posix() if script else None
            found[match["name"]] = (path.relative_to(REPO).as_posix(), resolved)
    for name, (path, used) in reused.items():  # `use rule` keeps the used rule's script
        found[name] = (path.relative_to(REPO).as_posix(), found[used][1])
    return found


ROWS = table_rows()


def test_the_table_has_one_row_per_rule_of_the_workflow():
    named = [row["rule"] for row in ROWS]
    assert len(named) == len(set(named)), "a rule has two rows"
    assert sorted(named) == sorted(workflow_rules())


@pytest.mark.parametrize("row", ROWS, ids=[row["rule"] for row in ROWS])
def test_each_rule_is_where_the_table_says_and_runs_its_script(row):
    rule_file, script = workflow_rules()[row["rule"]]
    assert row["rule file"] == rule_file
    assert row["script"] == (script or NONE)


@pytest.mark.parametrize("row", ROWS, ids=[row["rule"] for row in ROWS])
def test_each_script_calls_the_module_the_table_names(row):
    if row["script"] == NONE:
        assert row["module"] == NONE
        return
    module = row["module"]
    assert (REPO / "src" / Path(*module.split("."))).with_suffix(".py").is_file(), module
    assert re.search(rf"\b(from|import) {re.escape(module)}\b", (REPO / row["script"]).read_text()), module


def rule_graph(dot):
    """(rule names, edges between them) of `snakemake --rulegraph` text: node numbers and colours aside."""
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', dot, re.M))
    edges = {(names[a], names[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.M)}
    return set(names.values()), edges


@pytest.mark.snakemake
def test_the_picture_is_the_rule_graph_of_the_default_config(tmp_path):
    result = run_snakemake(tmp_path, "--rulegraph", check=True)
    committed = (REPO / "docs/rulegraph.dot").read_text()
    assert rule_graph(committed) == rule_graph(result.stdout), (
        "docs/rulegraph.dot is not the workflow's rule graph: draw it again (docs/ARCHITECTURE.md)\n"
        + output_of(result)
    )
    svg = (REPO / "docs/rulegraph.svg").read_text()
    assert all(f">{name}</text>" in svg for name in rule_graph(committed)[0]), "docs/rulegraph.svg is not drawn from it"
