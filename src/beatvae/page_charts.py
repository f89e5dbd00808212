"""Small line charts for the beats page, drawn as inline SVG: no script and no network needed, and
each chart carries a text alternative that says what its curves do."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 380, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 52  # room for the y ticks, the x ticks and the legend
# Dark enough on white for text and lines (WCAG AA), and told apart by dashes as well as colour.
COLOURS = ("#1f4e9c", "#a3301f", "#2d6b22", "#6b3f99")
DASHES = ("", "5 3", "2 2", "8 3 2 3")


@dataclass(frozen=True)
class Series:
    """One curve: (x, y) points in x order; `dots` marks each point (a few validations, say)."""

    label: str
    points: tuple[tuple[float, float], ...]
    dots: bool = False


def _span(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def _tick(value: float) -> str:
    return f"{value:.3g}"


def describe(series: Series, x_label: str) -> str:
    """What a curve does, in words: where it starts and ends, and its lowest point."""
    (x_first, y_first), (x_last, y_last) = series.points[0], series.points[-1]
    x_low, y_low = min(series.points, key=lambda point: point[1])
    return (
        f"{series.label} {_tick(y_first)} at {x_label} {x_first:.0f}, {_tick(y_last)} at {x_label} {x_last:.0f}"
        f" (lowest {_tick(y_low)} at {x_label} {x_low:.0f}; {len(series.points)} points)"
    )


def line_chart(title: str, series: Sequence[Series], x_label: str = "step") -> str:
    """A <figure> with one SVG chart of `series` on shared axes, its legend and a text alternative;
    "" when no series has a point."""
    drawn = [one for one in series if one.points]
    if not drawn:
        return ""
    x_low, x_high = _span([x for one in drawn for x, _ in one.points])
    y_low, y_high = _span([y for one in drawn for _, y in one.points])
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        return LEFT + (x - x_low) / (x_high - x_low) * plot_width, TOP + (y_high - y) / (y_high - y_low) * plot_height

    alternative = f"{title}: " + "; ".join(describe(one, x_label) for one in drawn) + "."
    parts = [
        f'<svg role="img" aria-label="{html.escape(alternative)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" class="chart">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_width}" height="{plot_height}" fill="none" stroke="#8d96a8"/>',
        *_axis_ticks(x_low, x_high, y_low, y_high, x_label),
    ]
    for index, one in enumerate(drawn):
        colour, dash = COLOURS[index % len(COLOURS)], DASHES[index % len(DASHES)]
        placed = [at(x, y) for x, y in one.points]
        points = " ".join(f"{left:.1f},{top:.1f}" for left, top in placed)
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.6"{dashes}/>')
        if one.dots:
            parts += [f'<circle cx="{left:.1f}" cy="{top:.1f}" r="2.6" fill="{colour}"/>' for left, top in placed]
        parts.append(_legend_entry(index, one.label, colour, dash))
    parts.append("</svg>")
    return f'<figure class="chart"><figcaption>{html.escape(title)}</figcaption>{"".join(parts)}</figure>'


def _axis_ticks(x_low: float, x_high: float, y_low: float, y_high: float, x_label: str) -> list[str]:
    """Labels at the ends of both axes (the curves' range is what a reader compares)."""
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    return [
        f'<text x="{LEFT - 4}" y="{TOP + 9}" text-anchor="end">{_tick(y_high)}</text>',
        f'<text x="{LEFT - 4}" y="{bottom}" text-anchor="end">{_tick(y_low)}</text>',
        f'<text x="{LEFT}" y="{bottom + 13}">{x_low:.0f}</text>',
        f'<text x="{right}" y="{bottom + 13}" text-anchor="end">{x_high:.0f}</text>',
        f'<text x="{(LEFT + right) / 2:.0f}" y="{bottom + 13}" text-anchor="middle">{html.escape(x_label)}</text>',
    ]


def _legend_entry(index: int, label: str, colour: str, dash: str) -> str:
    column, row = index % 2, index // 2
    x, y = LEFT + column * 160, HEIGHT - BOTTOM + 27 + row * 13
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x}" y1="{y - 4}" x2="{x + 22}" y2="{y - 4}" stroke="{colour}" stroke-width="1.6"{dashes}/>'
        f'<text x="{x + 27}" y="{y}">{html.escape(label)}</text>'
    )
