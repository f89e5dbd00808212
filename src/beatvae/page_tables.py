"""The beats page's tables: TSVs as sortable HTML tables (the page script sorts on a header's
button), in a frame that scrolls sideways and takes keyboard focus, and the comparison of the
variants cut into topics, the targets first, rather than one table dozens of columns wide."""

from __future__ import annotations

import csv
import html
import math

# The comparison's topics, in page order, and the column names (or name prefixes) each takes; a
# column takes the first topic that names it, so exact names go before the prefixes they share.
COMPARISON_TOPICS = (
    ("Quality targets", ("targets_met", "target_")),
    ("Sample statistics", ("sample_distance", "baseline_distance", "sample_notes_per_bar", "real_notes_per_bar")),
    ("Memorization", ("exact_copies", "mean_nearest_hamming", "median_nearest_hamming", "real_median_nearest_hamming")),
    ("Realism: samples beside held-out real playing", ("two_sample_", "sample_", "real_")),
    ("Held-out reconstruction", ("train_", "validation_", "test_")),
    ("Training", ("trained_steps", "exported_step", "stopped_at_time_limit")),
    ("Warnings", ("warnings",)),
)
PAGE_ORDER = ("Quality targets", "Realism: samples beside held-out real playing", "Held-out reconstruction")
OTHER_TOPIC = "Other figures"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_tsv(tsv_path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a TSV; a row with another number of columns fails naming it."""
    with open(tsv_path, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows:
        raise ValueError(f"{tsv_path} is empty: expected a header row and one row per variant")
    header, *body = rows
    for row_number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{tsv_path}, row {row_number}: {len(row)} columns, the header has {len(header)}")
    return header, body


def _cell(text: str) -> str:
    value = _number(text)
    if value is None:
        return f"<td>{html.escape(text)}</td>"
    shown = f"{value:.4g}" if not float(value).is_integer() else f"{int(value)}"
    return f'<td class="number" data-value="{value!r}" title="{html.escape(text)}">{shown}</td>'


def sortable_table(header: list[str], body: list[list[str]]) -> str:
    """A table sorted by a click on a header's button (numbers shown to 4 significant digits)."""
    lines = ['<table class="sortable">', "<thead><tr>"]
    lines += [f'<th scope="col"><button type="button">{html.escape(name)}</button></th>' for name in header]
    lines.append("</tr></thead><tbody>")
    lines += ["<tr>" + "".join(_cell(text) for text in row) + "</tr>" for row in body]
    lines.append("</tbody></table>")
    return "\n".join(lines)


def comparison_table(tsv_path) -> str:
    """The TSV as one sortable HTML table."""
    return sortable_table(*read_tsv(tsv_path))


def scrolling(table: str, label: str) -> str:
    """A table in a frame that scrolls sideways when the window is narrow: keyboard users reach it
    with Tab and scroll it with the arrow keys, and screen readers hear its name."""
    return f'<div class="table-scroll" tabindex="0" role="region" aria-label="{html.escape(label)}">{table}</div>'


def topic_of(column: str) -> str:
    for topic, names in COMPARISON_TOPICS:
        if any(column == name or (name.endswith("_") and column.startswith(name)) for name in names):
            return topic
    return OTHER_TOPIC


def comparison_tables(tsv_path) -> str:
    """The comparison TSV as one table per topic, targets first, each led by the variant's name."""
    header, body = read_tsv(tsv_path)
    topics: dict[str, list[int]] = {}
    for index, column in enumerate(header[1:], start=1):
        topics.setdefault(topic_of(column), []).append(index)
    ordered = [topic for topic in PAGE_ORDER if topic in topics] + [t for t in topics if t not in PAGE_ORDER]
    parts = []
    for topic in ordered:
        columns = [0, *topics[topic]]
        table = sortable_table([header[i] for i in columns], [[row[i] for i in columns] for row in body])
        parts.append(f"<h3>{html.escape(topic)}</h3>{scrolling(table, f'comparison: {topic}')}")
    return "\n".join(parts)
