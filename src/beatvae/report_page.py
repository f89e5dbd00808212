"""One self-contained HTML page that plays every generated beat (Snakemake's report viewer cannot).

Audio (OGG Vorbis), MIDI files and the vendored html-midi-player scripts are embedded, so the page
works offline, opened from disk or from the .zip report. Template, style and behaviour live in
report/page/, the player scripts in report/vendor/. A beat's card is drawn by beatvae.page_cards,
the tables by beatvae.page_tables, the training curves by beatvae.page_charts.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from beatvae.files import written_atomically
from beatvae.page_cards import beat_card, element_id, midi_segments, roll_geometry
from beatvae.page_charts import Series, line_chart
from beatvae.page_explorer import controls_script, explorer_scripts, explorer_section, run_beats
from beatvae.page_tables import comparison_table, comparison_tables, scrolling
from beatvae.schema import schema_defaults

__all__ = [
    "Batch",
    "PageTexts",
    "build_report_page",
    "comparison_table",
    "earlier_batches",
    "groove_section",
    "held_out_section",
    "midi_segments",
    "read_page_texts",
    "targets_section",
    "training_curves",
    "write_page_texts",
]

# Load order matters: Tone, then Magenta's core (it reads the Tone global), then the players.
VENDOR_SCRIPTS = ("tone-14.7.58.js", "magenta-music-core-1.23.1.js", "html-midi-player-1.6.0.min.js")
# Chromium opens no data: URL longer than 2 MiB, and Snakemake's single-file report shows each page
# as one (base64: 4/3 of its size): the copy without audio for it must stay under this.
SINGLE_FILE_REPORT_LIMIT = 2 * 2**20 * 3 // 4
SINGLE_FILE_NOTICE = (
    "This copy of the page has no rendered audio, so that it fits in Snakemake's single-file report "
    "(Chromium opens no embedded page over 2 MB there, and the full page is bigger): each beat plays "
    "through the MIDI player's built-in synth. The FluidSynth audio plays on the full page, "
    "results/report/beats.html opened from disk, or in the .zip report "
    "(snakemake --report results/report.zip)."
)


def groove_section(tsv_path, curves: str = "") -> str:
    """The groove evaluation table (results/eval/groove.tsv) as a page section, with the groove
    variants' training curves (`curves`, HTML) after it; none without a table."""
    if tsv_path is None:
        return ""
    return (
        '<section id="groove"><h2>Humanizing: groove variants against their baselines</h2>'
        '<p class="settings">From <code>results/eval/groove.tsv</code>: velocity error (MIDI units) and timing '
        "error (ms) on held-out drummers' hits, model beside the constant and per-position-mean baselines.</p>"
        f"{scrolling(comparison_table(tsv_path), 'groove evaluation')}{curves}</section>"
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
    """The quality targets (results/eval/targets.tsv) as the page's first section: which are met,
    realism first, and which only the reference (GPU) run is held to; none without one."""
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
        f"{scrolling(comparison_table(tsv_path), 'quality targets')}</section>"
    )


# ------------------------------------------------------------------------------------ training curves

# Columns of results/losses/{variant}.csv (beatvae.losses.loss_table) and how the page names them.
LOSS_CURVES = (("loss", "training loss", False), ("validation_loss", "validation loss", True))
ACCURACY_CURVES = (
    ("accuracy", "training accuracy", False),
    ("validation_accuracy", "validation accuracy", True),
    ("validation_free_running_accuracy", "validation free-running accuracy", True),
)


def _curves(rows: Sequence[Mapping[str, str]], wanted) -> list[Series]:
    """The named columns as series over `step`, skipping the steps a column has no value on."""
    series = []
    for column, label, dots in wanted:
        points = tuple((float(row["step"]), float(row[column])) for row in rows if (row.get(column) or "").strip())
        series.append(Series(label, points, dots=dots))
    return series


def training_curves(variant: str, losses_csv) -> str:
    """A variant's training and validation curves from its loss table (results/losses/{variant}.csv):
    loss, and the accuracies of a drum-class model; a run never validated shows its training curves."""
    with open(losses_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    charts = [
        line_chart(f"{variant}: loss per window (nats)", _curves(rows, LOSS_CURVES)),
        line_chart(f"{variant}: accuracy", _curves(rows, ACCURACY_CURVES)),
    ]
    return (
        f'<h3>Training curves</h3><p class="settings">From <code>results/losses/{html.escape(variant)}.csv</code>; '
        "dots are validations on held-out windows.</p>"
        f'<div class="charts">{"".join(charts)}</div>'
    )


# ------------------------------------------------------------------------------------ texts from the config


@dataclass(frozen=True)
class PageTexts:
    """Text typed into the config that the page shows. It reaches the page through a JSON file
    (write_page_texts), never through the page rule's params, which Snakemake's report embeds in a
    <script> unescaped (rules/render.smk, describe_variants)."""

    descriptions: Mapping[str, str] = field(default_factory=dict)  # {variant: its description}
    styles: Mapping[str, str] = field(default_factory=dict)  # {variant: its subset's description}
    endpoints: Mapping = field(default_factory=dict)  # generation.interpolation.endpoints


def write_page_texts(texts: PageTexts, path) -> Path:
    path = Path(path)
    content = {
        "descriptions": dict(texts.descriptions),
        "styles": dict(texts.styles),
        "endpoints": dict(texts.endpoints),
    }
    with written_atomically(path) as temporary:
        temporary.write_text(json.dumps(content, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def read_page_texts(path) -> PageTexts:
    return PageTexts(**json.loads(Path(path).read_text(encoding="utf-8")))


def endpoints_in_words(endpoints: Mapping, sample_ids: Mapping[int, str]) -> str:
    """Which beats an interpolation runs between, as HTML (`sample_ids`: {sample index: card id} of
    the batch's samples, linked when the endpoints are two of them); "" when not known."""
    source, ends = endpoints.get("source"), (endpoints.get("first"), endpoints.get("last"))
    if source == "samples":
        first, last = (
            f'<a href="#{sample_ids[int(i)]}">sample_{int(i):02d}</a>'
            if int(i) in sample_ids
            else f"sample_{int(i):02d}"
            for i in ends
        )
        return f"from {first} to {last} of the samples"
    if source == "files":
        first, last = (f"<code>{html.escape(Path(str(end)).name)}</code>" for end in ends)
        return f"from your file {first} to {last}"
    if source == "dataset":
        first, last = (f"<code>{html.escape(str(end))}</code>" for end in ends)
        return f"from GMD performance {first} to {last}"
    return ""


# ------------------------------------------------------------------------------------ earlier batches


@dataclass(frozen=True)
class Batch:
    """The beats one earlier generation setting left on disk: `tag` is its folder (temp{T}-seed{S}),
    `beats` ({"name", "midi", "humanized"}) its samples, its interpolation and their humanized copies."""

    variant: str
    tag: str
    beats: tuple[Mapping, ...]


def earlier_batches(results_dir, entries: Sequence[Mapping]) -> list[Batch]:
    """Batches of the entries' variants still on disk under `results_dir` in folders other than the
    entries' own: generation settings that changed since (another temperature or seed) leave them."""
    results_dir = Path(results_dir)
    current: dict[str, set[str]] = {}
    for entry in entries:
        current.setdefault(entry["variant"], set()).add(Path(str(entry["name"])).parts[0])
    batches = []
    for variant, tags in current.items():
        found: dict[str, list[dict]] = {}
        for kind, pattern in (("samples", "sample_*.mid"), ("interpolations", "interpolation.mid")):
            for midi in sorted((results_dir / kind / variant).glob(f"*/{pattern}")):
                tag = midi.parent.name
                if tag not in tags:
                    found.setdefault(tag, []).append({"name": f"{tag}/{midi.stem}", "midi": midi, "humanized": False})
        for tag, beats in sorted(found.items()):
            humanized = [
                dict(beat, midi=copy, humanized=True)
                for beat in beats
                if (copy := results_dir / "humanized" / variant / f"{beat['name']}.mid").is_file()
            ]
            batches.append(Batch(variant, tag, tuple(beats + humanized)))
    return batches


def _batch_summary(batch: Batch) -> str:
    originals = [Path(beat["name"]).name for beat in batch.beats if not beat["humanized"]]
    samples = sum(1 for name in originals if name != "interpolation")
    has_interpolation = "interpolation" in originals
    humanized = any(beat["humanized"] for beat in batch.beats)
    return (
        f"{batch.tag}: {samples} samples"
        + (" and an interpolation" if has_interpolation else "")
        + (", each with its humanized version" if humanized else "")
    )


# ------------------------------------------------------------------------------------ the page


def _inline_script(path: Path) -> str:
    code = path.read_text(encoding="utf-8")
    code = re.sub(r"^//[#@] sourceMappingURL=.*$", "", code, flags=re.MULTILINE)  # no map to fetch
    return "<script>\n" + code.replace("</script", "<\\/script") + "\n</script>"


def _in_page_order(entered: Sequence[Mapping]) -> list[Mapping]:
    """Each beat followed by its humanized version (next to it in the grid of samples)."""
    humanized_of = {card["name"]: card for card in entered if card["humanized"]}
    originals = {card["name"] for card in entered if not card["humanized"]}
    ordered = []
    for card in entered:
        if not card["humanized"]:
            ordered += [card, *([humanized_of[card["name"]]] if card["name"] in humanized_of else [])]
        elif card["name"] not in originals:
            ordered.append(card)
    return ordered


def _cards(variant: str, beats: Sequence[Mapping], bars: int, with_audio: bool) -> list[Mapping]:
    """Each beat ({"name", "midi", "audio", "humanized"}) with its card's HTML, in page order."""
    cards = []
    for beat in beats:
        is_interpolation = Path(str(beat["name"])).name == "interpolation"
        html_card = beat_card(
            variant,
            str(beat["name"]),
            beat["midi"],
            beat.get("audio") if with_audio else None,
            bars if is_interpolation else None,
            humanized=bool(beat["humanized"]),
        )
        cards.append(dict(beat, interpolation=is_interpolation, html=html_card))
    return _in_page_order(cards)


def _sample_ids(variant: str, cards: Sequence[Mapping]) -> dict[int, str]:
    """{sample index: card id} of a batch's samples (sample_NN), for links to an interpolation's endpoints."""
    ids = {}
    for card in cards:
        match = re.fullmatch(r"sample_(\d+)", Path(str(card["name"])).name)
        if match and not card["humanized"]:
            ids[int(match.group(1))] = element_id(variant, str(card["name"]))
    return ids


def _interpolation_block(variant: str, cards: Sequence[Mapping], bars: int, endpoints: Mapping) -> str:
    interpolations = [card["html"] for card in cards if card["interpolation"]]
    if not interpolations:
        return ""
    between = endpoints_in_words(endpoints, _sample_ids(variant, cards)) if endpoints else ""
    heading = " ".join(["Interpolation", *([between] if between else []), f"({bars} bars per step)"])
    return f"<h3>{heading}</h3>{''.join(interpolations)}"


def _earlier_block(variant: str, batches: Sequence[Batch], bars: int) -> str:
    """Earlier batches, folded: MIDI players and piano rolls (their audio stays on disk, unembedded,
    so that each new batch does not make the page bigger by a batch of audio)."""
    if not batches:
        return ""
    folded = []
    for batch in batches:
        cards = _cards(variant, batch.beats, bars, with_audio=False)
        samples = "".join(card["html"] for card in cards if not card["interpolation"])
        folded.append(
            f"<details><summary>{html.escape(_batch_summary(batch))}</summary>"
            f'<div class="grid">{samples}</div>{_interpolation_block(variant, cards, bars, {})}</details>'
        )
    return (
        "<h3>Earlier batches still on disk</h3>"
        '<p class="settings">Beats that other generation settings wrote (results/samples/'
        f"{html.escape(variant)}/&lt;temperature and seed&gt;/): MIDI players and piano rolls; their audio is "
        f"under results/audio/{html.escape(variant)}/.</p>" + "".join(folded)
    )


def _variant_section(
    variant: str,
    beats: Sequence[Mapping],
    bars: int,
    texts: PageTexts,
    curves: str,
    earlier: Sequence[Batch],
    with_audio: bool,
) -> str:
    cards = _cards(variant, beats, bars, with_audio)
    samples = [card["html"] for card in cards if not card["interpolation"]]
    style = texts.styles.get(variant) or ""
    note = (
        '<p class="settings">Each beat is followed by its <span class="tag">humanized</span> version: the '
        "same notes with velocities and timing added by the GrooVAE model (<code>humanize:</code> in the "
        "config).</p>"
        if any(card["humanized"] for card in cards)
        else ""
    )
    return (
        f'<section id="{element_id("variant", variant)}"><h2>{html.escape(variant)}'
        + (f': <span class="style">{html.escape(style)}</span>' if style else "")
        + f'</h2><p class="settings">{html.escape(texts.descriptions.get(variant, "") or "")}</p>{note}'
        f'<h3>Samples</h3><div class="grid">{"".join(samples)}</div>'
        f"{_interpolation_block(variant, cards, bars, texts.endpoints)}{curves}"
        f"{_earlier_block(variant, earlier, bars)}</section>"
    )


def _nav(variants: Sequence[str], styles: Mapping[str, str], with_targets: bool) -> str:
    links = [] if not with_targets else ['<a href="#targets">targets</a>']
    for variant in variants:
        style = f": {styles[variant]}" if styles.get(variant) else ""
        links.append(f'<a href="#{element_id("variant", variant)}">{html.escape(variant + style)}</a>')
    return " ".join([*links, '<a href="#comparison">comparison</a>'])


def explorer_parts(
    assets_dir: Path, explorer: Mapping, generation: Mapping, beats: Mapping[str, Sequence[Mapping]]
) -> dict[str, str]:
    """The page's beat explorer: its scripts (head), its section and its controls' script; "" each
    without models. A section per drum variant among the models (the groove model only humanizes),
    listing first the run's samples among `beats` ({variant: page beats}) when explorer["latents"]
    ({variant: its samples' latents.npy}) has the variant's latent vectors."""
    models = dict(explorer.get("models") or {})
    groove = explorer.get("groove")
    latents = dict(explorer.get("latents") or {})
    drums = [variant for variant in models if variant != groove]
    if not drums:
        return {"explorer_scripts": "", "explorer": "", "explorer_controls": ""}
    start = {**schema_defaults("generation"), **generation}  # the run's settings, else the schema's defaults
    sections = "\n".join(
        explorer_section(variant, groove, start, run_beats(beats.get(variant, ()), latents.get(variant), start))
        for variant in drums
    )
    return {
        "explorer_scripts": explorer_scripts(assets_dir, models),
        "explorer": f'<section id="explorer">\n<h2>Make new beats in this page</h2>\n{sections}\n</section>',
        "explorer_controls": controls_script(assets_dir),
    }


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
    styles: Mapping[str, str] | None = None,
    endpoints: Mapping | None = None,
    losses: Mapping[str, object] | None = None,
    earlier: Sequence[Batch] = (),
    single_file_copy: bool = False,
    explorer: Mapping | None = None,
) -> Path:
    """Write the page for `entries` ({"variant", "name"}, in the order of `midi_paths` and
    `audio_paths`; a name ending in "interpolation" is drawn one step per row, each of
    `segment_bars` bars: one number, or one per variant). An entry with "humanized": true is the
    humanized version of the entry of the same variant and name, and is shown right after it.
    `assets_dir` is the repository's report/ folder. Optional parts: `variants` (descriptions) and
    `styles` ({variant: its subset's description}, named in its heading), `endpoints`
    (generation.interpolation.endpoints, named above each interpolation), `losses` ({variant: its
    results/losses CSV}: training curves), `earlier` (earlier_batches: folded under their variant),
    `targets_tsv` (results/eval/targets.tsv, first), `groove_tsv` (results/eval/groove.tsv, after the
    comparison), `held_out` ({variant: {subset, representation, counts}}, see held_out_section: splits
    left without windows, at the top). `single_file_copy`: the copy without audio for Snakemake's
    single-file report, saying so at its top. `explorer` ({"models": {variant: results/browser folder},
    "groove": the one that humanizes or None, "latents": {variant: its samples' latents.npy}}): a beat
    explorer per drum variant among the models, starting with the run's samples, left out of the
    single-file copy. Returns the page's path.

    Over 60 lines only by its signature and this docstring (39 lines: each optional part of the page
    is one keyword); the body is 60 lines."""
    assets_dir = Path(assets_dir)
    if len(midi_paths) != len(entries) or (audio_paths is not None and len(audio_paths) != len(entries)):
        raise ValueError(
            f"{len(entries)} beats but {len(midi_paths)} MIDI files and "
            f"{'no' if audio_paths is None else len(audio_paths)} audio files"
        )
    with_audio = audio_paths is not None and not single_file_copy
    texts = PageTexts(dict(variants or {}), dict(styles or {}), dict(endpoints or {}))
    bars_of = segment_bars.get if isinstance(segment_bars, Mapping) else lambda _variant: segment_bars
    by_variant: dict[str, list[dict]] = {}
    for index, entry in enumerate(entries):
        beat = {
            "name": str(entry["name"]),
            "midi": midi_paths[index],
            "audio": audio_paths[index] if audio_paths is not None else None,
            "humanized": bool(entry.get("humanized")),
        }
        by_variant.setdefault(entry["variant"], []).append(beat)
    losses = dict(losses or {})
    curves = {variant: training_curves(variant, path) for variant, path in losses.items()}
    sections = [
        _variant_section(
            variant,
            beats,
            bars_of(variant),
            texts,
            curves.get(variant, ""),
            [batch for batch in earlier if batch.variant == variant],
            with_audio,
        )
        for variant, beats in by_variant.items()
    ]
    groove_curves = "".join(curve for variant, curve in curves.items() if variant not in by_variant)
    players = sum(len(beats) for beats in by_variant.values()) + sum(len(batch.beats) for batch in earlier)
    generation = generation or {}
    settings = ", ".join(
        f"{key} {generation[key]}" for key in ("num_samples", "temperature", "seed", "qpm") if key in generation
    )
    page = Template((assets_dir / "page" / "template.html").read_text(encoding="utf-8")).substitute(
        title=html.escape(title),
        css=(assets_dir / "page" / "page.css").read_text(encoding="utf-8"),
        vendor_scripts="\n".join(_inline_script(assets_dir / "vendor" / name) for name in VENDOR_SCRIPTS),
        num_players=players,
        num_audio=len(audio_paths) if with_audio else 0,
        roll_geometry=" ".join(f'data-roll-{key}="{value}"' for key, value in roll_geometry().items()),
        settings=html.escape(f"Generation: {settings}." if settings else ""),
        notice=f'<p class="notice" role="note">{html.escape(SINGLE_FILE_NOTICE)}</p>' if single_file_copy else "",
        nav=_nav(list(by_variant), texts.styles, targets_tsv is not None),
        sections="\n".join(sections),
        targets=targets_section(targets_tsv),
        comparison=comparison_tables(comparison_tsv),
        groove=groove_section(groove_tsv, groove_curves),
        held_out=held_out_section(held_out),
        page_js=(assets_dir / "page" / "page.js").read_text(encoding="utf-8"),
        **explorer_parts(assets_dir, {} if single_file_copy else explorer or {}, generation, by_variant),
    )
    out_path = Path(out_path)
    with written_atomically(out_path, ".partial") as partial:
        partial.write_text(page, encoding="utf-8")
    return out_path
