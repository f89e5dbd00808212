"""One self-contained HTML page that plays every generated beat (Snakemake's report viewer cannot).

Audio (OGG Vorbis), MIDI files and the vendored html-midi-player scripts are embedded, so the page
works offline, opened from disk or from inside Snakemake's report. Template, style and behaviour
live in report/page/, the player scripts in report/vendor/.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template

from beatvae.files import written_atomically

# Load order matters: Tone, then Magenta's core (it reads the Tone global), then the players.
VENDOR_SCRIPTS = ("tone-14.7.58.js", "magenta-music-core-1.23.1.js", "html-midi-player-1.6.0.min.js")
SAMPLE_PIXELS_PER_SECOND = 34  # a 4-bar sample at 120 qpm fits a card
STEP_PIXELS_PER_SECOND = 130  # one interpolation step per row, wide enough to read 16th notes
MIME = {".ogg": "audio/ogg", ".mid": "audio/midi", ".midi": "audio/midi"}


def data_uri(path_or_bytes, mime: str | None = None) -> str:
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytes(path_or_bytes)
    else:
        path = Path(path_or_bytes)
        data = path.read_bytes()
        mime = mime or MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def midi_segments(midi_path, bars_per_segment: int) -> list[tuple[float, float, bytes]]:
    """The MIDI file cut into files of `bars_per_segment` bars: [(start, length in seconds, MIDI bytes)].

    Each piece keeps the tempo and metre and starts at time 0, so the interpolation's steps can be
    drawn one per row on a common time axis.
    """
    import mido

    source = mido.MidiFile(midi_path)
    merged = mido.merge_tracks(source.tracks)
    meta, notes, tick = [], [], 0
    numerator, denominator = 4, 4
    tempo = mido.bpm2tempo(120)
    for message in merged:
        tick += message.time
        if message.type == "time_signature":
            numerator, denominator = message.numerator, message.denominator
        if message.type == "set_tempo":
            tempo = message.tempo
        if message.type in ("note_on", "note_off"):
            notes.append((tick, message))
        elif message.is_meta and message.type != "end_of_track" and tick == 0:
            meta.append(message)
    end_tick = tick
    segment_ticks = int(round(bars_per_segment * numerator * 4 / denominator * source.ticks_per_beat))
    seconds_per_tick = tempo / 1e6 / source.ticks_per_beat
    segments = []
    for start in range(0, max(end_tick, 1), segment_ticks):
        stop = min(start + segment_ticks, end_tick)
        track = mido.MidiTrack([message.copy(time=0) for message in meta])
        now = start
        for at, message in notes:
            # A note belongs to the segment its onset is in (its note-off may sit on the boundary).
            onset_inside = message.type == "note_on" and message.velocity > 0 and start <= at < stop
            off_inside = not (message.type == "note_on" and message.velocity > 0) and start < at <= stop
            if onset_inside or off_inside:
                track.append(message.copy(time=at - now))
                now = at
        track.append(mido.MetaMessage("end_of_track", time=stop - now))
        piece = mido.MidiFile(type=0, ticks_per_beat=source.ticks_per_beat)
        piece.tracks.append(track)
        buffer = io.BytesIO()
        piece.save(file=buffer)
        segments.append((start * seconds_per_tick, (stop - start) * seconds_per_tick, buffer.getvalue()))
    return segments


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def comparison_table(tsv_path) -> str:
    """The comparison TSV as a sortable HTML table (numbers shown to 4 significant digits)."""
    with open(tsv_path, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows:
        raise ValueError(f"{tsv_path} is empty: expected a header row and one row per variant")
    header, *body = rows
    lines = ['<table class="sortable">', "<thead><tr>"]
    lines += [f'<th scope="col">{html.escape(name)}</th>' for name in header]
    lines.append("</tr></thead><tbody>")
    for row_number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{tsv_path}, row {row_number}: {len(row)} columns, the header has {len(header)}")
        cells = []
        for text in row:
            value = _number(text)
            if value is None:
                cells.append(f"<td>{html.escape(text)}</td>")
            else:
                shown = f"{value:.4g}" if not float(value).is_integer() else f"{int(value)}"
                cells.append(f'<td class="number" data-value="{value!r}" title="{html.escape(text)}">{shown}</td>')
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def groove_section(tsv_path) -> str:
    """The groove evaluation table (results/eval/groove.tsv) as a page section; none without one."""
    if tsv_path is None:
        return ""
    return (
        '<section id="groove"><h2>Humanizing: groove variants against their baselines</h2>'
        '<p class="settings">From <code>results/eval/groove.tsv</code>: velocity error (MIDI units) and timing '
        "error (ms) on held-out drummers' hits, model beside the constant and per-position-mean baselines.</p>"
        f"{comparison_table(tsv_path)}</section>"
    )


def held_out_section(trained_on: Mapping[str, Mapping] | None) -> str:
    """A page section naming each held-out split left without windows and what it costs the variants
    trained on it (beatvae.held_out; `trained_on` as empty_held_out_splits takes it); none without one."""
    from beatvae.held_out import empty_held_out_splits

    found = empty_held_out_splits(trained_on or {})
    if not found:
        return ""
    items = "".join(
        f"<li><strong>subset {html.escape(empty.subset)}, {html.escape(empty.split)} split</strong> "
        f"({html.escape(empty.representation)}): {html.escape(empty.counted)}. "
        f"{html.escape(empty.named_variants())}: {html.escape(empty.consequence())}.</li>"
        for empty in found
    )
    return (
        '<section id="held-out"><h2>Held-out splits without windows</h2>'
        '<p class="settings">The evaluation below is missing what these splits would have measured '
        "(from <code>results/tensors/&lt;subset&gt;/&lt;representation&gt;/windows.json</code>).</p>"
        f"<ul>{items}</ul></section>"
    )


def targets_section(tsv_path) -> str:
    """The quality targets (results/eval/targets.tsv) as the page's first evaluation section: which
    are met, realism first, and which only the reference (GPU) run is held to; none without one."""
    if tsv_path is None:
        return ""
    return (
        '<section id="targets"><h2>Quality targets: does it sound like real playing?</h2>'
        '<p class="settings">From <code>results/eval/targets.tsv</code> (thresholds in '
        "<code>evaluation.targets</code>). Realism first: <b>two_sample</b> is how often a classifier tells "
        "generated beats from held-out real ones (0.5 = it cannot), beside its floor, the same classifier on "
        "training vs held-out real windows; <b>clean_backbeat</b>, <b>bar_change</b> and <b>fill</b> are shares "
        "of bars (a kick on 1 and a snare on 2 and 4; cells changed from the previous bar; snare or toms on most "
        "16ths) beside held-out real playing. Targets whose <i>counts</i> says <i>reference run only</i> are the "
        "reference (GPU) models' and are not counted in <i>targets met</i>.</p>"
        f"{comparison_table(tsv_path)}</section>"
    )


def _element_id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts)).strip("-")


def _beat_seconds(midi_path) -> float:
    import mido

    tempos = [message.tempo for message in mido.MidiFile(midi_path) if message.type == "set_tempo"]
    return (tempos[0] if tempos else mido.bpm2tempo(120)) / 1e6


def _roll(
    visualizer_id: str,
    seconds: float,
    pixels_per_second: int,
    beat_seconds: float,
    offset: float = 0.0,
    src: str | None = None,
) -> str:
    """A piano roll over a grid of beats (light) and 4/4 bars (dark), with a playhead."""
    source = f' src="{src}"' if src else ""
    beat, bar = beat_seconds * pixels_per_second, 4 * beat_seconds * pixels_per_second
    grid = (
        f"background-image:repeating-linear-gradient(to right,#8d96a8 0 1px,transparent 1px {bar:.3f}px),"
        f"repeating-linear-gradient(to right,#e1e5ec 0 1px,transparent 1px {beat:.3f}px);"
        f"width:{seconds * pixels_per_second + 1:.0f}px"
    )
    return (
        f'<div class="roll" data-offset="{offset:.6f}" data-seconds="{seconds:.6f}">'
        f'<midi-visualizer type="piano-roll" id="{visualizer_id}" data-pixels-per-second="{pixels_per_second}"'
        f' style="{grid}"{source}></midi-visualizer><div class="playhead"></div></div>'
    )


def beat_card(
    variant: str,
    name: str,
    midi_path,
    audio_path=None,
    segment_bars: int | None = None,
    humanized: bool = False,
) -> str:
    """One beat: audio player, MIDI player + piano roll(s), MIDI download link.

    `humanized`: the beat's GrooVAE-humanized version (labelled so, its own ids and file name)."""
    from beatvae.midi import midi_length_seconds

    identifier = _element_id(variant, name, *(["humanized"] if humanized else []))
    midi_uri = data_uri(midi_path)
    seconds = midi_length_seconds(midi_path)
    beat_seconds = _beat_seconds(midi_path)
    download_name = identifier + ".mid"
    label = html.escape(Path(name).name) + (' <span class="tag">humanized</span>' if humanized else "")
    parts = [
        f'<article class="beat{" humanized" if humanized else ""}" id="{identifier}" '
        f'data-name="{html.escape(variant)}/{html.escape(name)}{" (humanized)" if humanized else ""}">',
        f'<h4><span title="{html.escape(name)}">{label}</span>'
        f'<a download="{download_name}" href="{midi_uri}">MIDI ↓</a></h4>',
    ]
    if audio_path is not None:
        parts.append(f'<audio controls loop preload="metadata" src="{data_uri(audio_path)}"></audio>')
    if segment_bars:
        # The whole MIDI plays; its steps are drawn one per row on a shared time axis.
        parts.append('<span class="label">MIDI player (built-in synth)</span>')
        parts.append(f'<midi-player data-seconds="{seconds:.6f}" src="{midi_uri}"></midi-player>')
        parts.append('<div class="steps">')
        for number, (offset, length, piece) in enumerate(midi_segments(midi_path, segment_bars), start=1):
            parts.append(f'<span class="label">step {number}<br>{offset:.0f} s</span>')
            parts.append(
                _roll(
                    f"{identifier}-step{number}",
                    length,
                    STEP_PIXELS_PER_SECOND,
                    beat_seconds,
                    offset,
                    data_uri(piece, "audio/midi"),
                )
            )
        parts.append("</div>")
    else:
        # The piano roll comes first: the player looks its visualizer up when it is parsed.
        parts.append(_roll(f"{identifier}-roll", seconds, SAMPLE_PIXELS_PER_SECOND, beat_seconds, src=midi_uri))
        parts.append(
            f'<midi-player data-seconds="{seconds:.6f}" src="{midi_uri}" visualizer="#{identifier}-roll"></midi-player>'
        )
    parts.append("</article>")
    return "\n".join(parts)


def _inline_script(path: Path) -> str:
    code = path.read_text(encoding="utf-8")
    code = re.sub(r"^//[#@] sourceMappingURL=.*$", "", code, flags=re.MULTILINE)  # no map to fetch
    return "<script>\n" + code.replace("</script", "<\\/script") + "\n</script>"


def build_report_page(
    entries: Sequence[Mapping],
    midi_paths: Sequence,
    audio_paths: Sequence | None,
    comparison_tsv,
    out_path,
    assets_dir,
    variants: Mapping[str, str] | None = None,
    generation: Mapping | None = None,
    segment_bars: Mapping[str, int] | int = 4,
    title: str = "beatvae: generated beats",
    groove_tsv=None,
    held_out: Mapping[str, Mapping] | None = None,
    targets_tsv=None,
) -> Path:
    """Write the page for `entries` ({"variant", "name"}, in the order of `midi_paths` and
    `audio_paths`; a name ending in "interpolation" is drawn one step per row, each of
    `segment_bars` bars: one number, or one per variant). An entry with "humanized": true is the
    humanized version of the entry of the same variant and name, and is shown right after it.
    `assets_dir` is the repository's report/ folder; `groove_tsv` (results/eval/groove.tsv), when given,
    is shown after the comparison; `targets_tsv` (results/eval/targets.tsv), when given, before it;
    `held_out` ({variant: {subset, representation, counts}}, see held_out_section) names held-out
    splits left without windows at the top. Returns the page's path."""
    assets_dir = Path(assets_dir)
    if len(midi_paths) != len(entries) or (audio_paths is not None and len(audio_paths) != len(entries)):
        raise ValueError(
            f"{len(entries)} beats but {len(midi_paths)} MIDI files and "
            f"{'no' if audio_paths is None else len(audio_paths)} audio files"
        )
    variants = dict(variants or {})
    bars_of = segment_bars.get if isinstance(segment_bars, Mapping) else lambda _variant: segment_bars
    by_variant: dict[str, list[tuple[str, str, bool, str]]] = {}
    for index, entry in enumerate(entries):
        name = str(entry["name"])
        is_interpolation = Path(name).name == "interpolation"
        humanized = bool(entry.get("humanized"))
        card = beat_card(
            entry["variant"],
            name,
            midi_paths[index],
            audio_paths[index] if audio_paths is not None else None,
            bars_of(entry["variant"]) if is_interpolation else None,
            humanized=humanized,
        )
        kind = "interpolation" if is_interpolation else "samples"
        by_variant.setdefault(entry["variant"], []).append((kind, name, humanized, card))
    sections = []
    for variant, entered in by_variant.items():
        anchor = _element_id("variant", variant)
        # Each beat's humanized version follows it (next to it in the grid of samples).
        humanized_of = {name: card for _, name, humanized, card in entered if humanized}
        originals = {name for _, name, humanized, _ in entered if not humanized}
        cards = []
        for kind, name, humanized, card in entered:
            if not humanized:
                cards += [(kind, card), *([(kind, humanized_of[name])] if name in humanized_of else [])]
            elif name not in originals:
                cards.append((kind, card))
        samples = [card for kind, card in cards if kind == "samples"]
        interpolations = [card for kind, card in cards if kind == "interpolation"]
        note = (
            '<p class="settings">Each beat is followed by its <span class="tag">humanized</span> version: the '
            "same notes with velocities and timing added by the GrooVAE model (<code>humanize:</code> in the "
            "config).</p>"
            if humanized_of
            else ""
        )
        sections.append(
            f'<section id="{anchor}"><h2>{html.escape(variant)}</h2>'
            f'<p class="settings">{html.escape(variants.get(variant, "") or "")}</p>{note}'
            f'<h3>Samples</h3><div class="grid">{"".join(samples)}</div>'
            + (
                f"<h3>Interpolation ({bars_of(variant)} bars per step)</h3>{''.join(interpolations)}"
                if interpolations
                else ""
            )
            + "</section>"
        )
    generation = generation or {}
    settings = ", ".join(
        f"{key} {generation[key]}" for key in ("num_samples", "temperature", "seed", "qpm") if key in generation
    )
    page = Template((assets_dir / "page" / "template.html").read_text(encoding="utf-8")).substitute(
        title=html.escape(title),
        css=(assets_dir / "page" / "page.css").read_text(encoding="utf-8"),
        vendor_scripts="\n".join(_inline_script(assets_dir / "vendor" / name) for name in VENDOR_SCRIPTS),
        num_players=len(entries),
        num_audio=0 if audio_paths is None else len(audio_paths),
        settings=html.escape(f"Generation: {settings}." if settings else ""),
        nav=" ".join(f'<a href="#{_element_id("variant", v)}">{html.escape(v)}</a>' for v in by_variant)
        + (' <a href="#targets">targets</a>' if targets_tsv is not None else "")
        + ' <a href="#comparison">comparison</a>',
        sections="\n".join(sections),
        targets=targets_section(targets_tsv),
        comparison=comparison_table(comparison_tsv),
        groove=groove_section(groove_tsv),
        held_out=held_out_section(held_out),
        page_js=(assets_dir / "page" / "page.js").read_text(encoding="utf-8"),
    )
    out_path = Path(out_path)
    with written_atomically(out_path, ".partial") as partial:
        partial.write_text(page, encoding="utf-8")
    return out_path


def write_descriptions(descriptions: Mapping[str, str], path) -> Path:
    """Writes the variants' descriptions ({variant: text}) as JSON, for read_descriptions.

    They reach the page through this file rather than the page rule's params, which Snakemake's
    report embeds in a <script> unescaped (rules/render.smk, describe_variants)."""
    path = Path(path)
    with written_atomically(path) as temporary:
        temporary.write_text(json.dumps(dict(descriptions), indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def read_descriptions(path) -> dict[str, str]:
    """The {variant: description} that write_descriptions wrote."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
