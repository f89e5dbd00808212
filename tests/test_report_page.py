"""The report page plays every beat: built from small MIDIs, rendered and encoded for real, then
loaded in a real headless Chromium (Debian's `chromium`); a full-page screenshot is kept."""

import base64
import os
import re
import shutil
import time
from pathlib import Path

import mido
import pytest
from note_seq import sequences_lib

from beatvae.midi import retimed, write_midi
from beatvae.report_page import (
    SINGLE_FILE_REPORT_LIMIT,
    build_report_page,
    comparison_table,
    earlier_batches,
    midi_segments,
)

try:  # tests/ as a package or as a plain rootdir-on-sys.path directory
    from .headless_chromium import CHROMIUM, Browser
    from .test_midi import magenta_decoded
except ImportError:
    from headless_chromium import CHROMIUM, Browser
    from test_midi import magenta_decoded

REPOSITORY = Path(__file__).resolve().parents[1]
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
ARTEFACTS = Path(os.environ.get("BEATVAE_TEST_ARTEFACTS", REPOSITORY / "results" / "test-artefacts"))

# Two variants' loss tables as plot_losses writes them (results/losses/{variant}.csv): validations
# every other logged step, so the validation columns are empty in between.
LOSSES = (
    "step,loss,reconstruction_loss,kl_loss,kl_bits,accuracy,beta,sampling_probability,learning_rate,"
    "validation_loss,validation_reconstruction_loss,validation_kl_bits,validation_accuracy,"
    "validation_free_running_accuracy\n"
    "0,9.5,9.0,0.5,1.0,0.2,0.0,0.0,0.003,9.8,9.2,1.0,0.21,0.1\n"
    "50,6.5,6.0,0.5,3.0,0.5,0.1,0.1,0.003,,,,,\n"
    "100,4.25,3.5,0.75,5.0,0.7,0.2,0.2,0.003,5.5,4.8,5.1,0.61,0.33\n"
)
STYLES = {"v1-small": "every 4/4 performance", "v2-small": "rock beats"}
ENDPOINTS = {"source": "samples", "first": 1, "last": 0}

needs_browser_and_audio = pytest.mark.skipif(
    CHROMIUM is None or shutil.which("fluidsynth") is None or shutil.which("oggenc") is None or not SOUNDFONT.is_file(),
    reason="needs chromium, fluidsynth, fluid-soundfont-gm and vorbis-tools (make system-packages, as root)",
)


def in_headless_chromium(test):
    """A test that opens the page in Chromium: marked `browser` (the fast tier leaves it out: each takes
    10-50 s) and skipped where Chromium or the audio tools are missing."""
    return pytest.mark.browser(needs_browser_and_audio(test))


def interpolation_midi(path, step_last_notes=(63, 30, 50), qpm=120):
    steps = [retimed(magenta_decoded(last), qpm, num_bars=4) for last in step_last_notes]
    joined = sequences_lib.concatenate_sequences(steps, [steps[0].total_time] * len(steps))
    return write_midi(joined, path)


def humanized_copy(midi_path, path):
    """A played version of a quantized beat, as the humanize stage writes it: velocities varied,
    onsets a few milliseconds off the grid, the same length."""
    import note_seq

    sequence = note_seq.midi_file_to_note_sequence(str(midi_path))
    for index, note in enumerate(sequence.notes):
        note.velocity = 40 + index * 17 % 80
        shift = (index % 5 - 2) * 0.012
        note.start_time, note.end_time = max(0.0, note.start_time + shift), note.end_time + shift
    sequence.total_time = mido.MidiFile(midi_path).length
    return write_midi(sequence, path)


def test_midi_segments_cut_an_interpolation_into_its_four_bar_steps(tmp_path):
    midi = interpolation_midi(tmp_path / "interpolation.mid", (63, 30, 50))
    segments = midi_segments(midi, 4)
    assert [(start, length) for start, length, _ in segments] == [(0.0, 8.0), (8.0, 8.0), (16.0, 8.0)]
    for (_, _, piece), last_step in zip(segments, (63, 30, 50), strict=True):
        path = tmp_path / "piece.mid"
        path.write_bytes(piece)
        messages = list(mido.MidiFile(path))
        onsets = [m for m in messages if m.type == "note_on" and m.velocity > 0]
        assert len(onsets) == last_step // 2 + 1, "each step keeps exactly its own notes"
        assert sum(m.time for m in messages) == pytest.approx(8.0)
        assert any(m.type == "set_tempo" for m in messages)


def test_comparison_table_is_sortable_and_names_a_ragged_row(tmp_path):
    tsv = tmp_path / "comparison.tsv"
    tsv.write_text("variant\taccuracy\tmemorized\nv1-small\t0.81234567\t3\nv2-small\tnan\t0\n")
    table = comparison_table(tsv)
    assert table.startswith('<table class="sortable">') and table.count("<tr>") == 3
    assert 'data-value="0.81234567">0.8123<' in table.replace(' title="0.81234567"', "")
    assert "<td>nan</td>" in table, "NaN shows as text, not a number to sort"
    tsv.write_text("variant\taccuracy\nv1-small\t0.8\textra\n")
    with pytest.raises(ValueError, match=r"comparison.tsv, row 2: 3 columns, the header has 2"):
        comparison_table(tsv)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from beatvae.render import encode_ogg, render_loop

    folder = tmp_path_factory.mktemp("report")
    entries, midis, oggs = [], [], []
    for variant, pitches in (("v1-small", (36, 38, 42, 46)), ("v2-small", (36, 42, 51))):
        for index, last_step in enumerate((63, 41)):
            name = f"temp0.5-seed2018/sample_{index:02d}"
            midis.append(
                write_midi(
                    retimed(magenta_decoded(last_step, pitches), 120, num_bars=4), folder / variant / f"{name}.mid"
                )
            )
            entries.append({"variant": variant, "name": name})
        midis.append(interpolation_midi(folder / variant / "temp0.5-seed2018" / "interpolation.mid"))
        entries.append({"variant": variant, "name": "temp0.5-seed2018/interpolation"})
    # v2-small's first sample and interpolation also come humanized (listed after every original,
    # as the workflow lists them; the page shows each right after its original).
    for original, entry in [(midis[3], entries[3]), (midis[5], entries[5])]:
        midis.append(humanized_copy(original, folder / "humanized" / "v2-small" / f"{entry['name']}.mid"))
        entries.append(dict(entry, humanized=True))
    for midi in midis:
        render_loop(midi, midi.with_suffix(".wav"), SOUNDFONT, 22050)
        oggs.append(encode_ogg(midi.with_suffix(".wav"), midi.with_suffix(".ogg")))
    (folder / "comparison.tsv").write_text("variant\tkl_bits\nv1-small\t30.5\nv2-small\t12.25\n")
    losses = {variant: folder / f"{variant}.csv" for variant in ("v1-small", "v2-small")}
    for path in losses.values():
        path.write_text(LOSSES)
    path = build_report_page(
        entries, midis, oggs, folder / "comparison.tsv", folder / "beats.html", REPOSITORY / "report",
        variants={"v1-small": "all of the sample", "v2-small": "rock beats only, scaled down"},
        generation={"num_samples": 2, "temperature": 0.5, "seed": 2018, "qpm": 120},
        styles=STYLES, endpoints=ENDPOINTS, losses=losses,
    )  # fmt: skip
    return {"path": path, "entries": entries, "midis": midis, "oggs": oggs}


@in_headless_chromium
def test_page_is_self_contained_and_small(page):
    text = page["path"].read_text()
    assert "<script src=" not in text and "http://" not in text.split("<script>", 1)[0]
    assert text.count("<midi-player ") == len(page["entries"]) and text.count("<audio ") == len(page["entries"])
    embedded = sum(p.stat().st_size for p in page["oggs"]) + 3 * sum(p.stat().st_size for p in page["midis"])
    # base64 costs a third more; the vendored players ~0.6 MB: no WAV or other payload slipped in.
    assert page["path"].stat().st_size < embedded * 4 / 3 + 1.0e6


@in_headless_chromium
def test_page_plays_every_beat_in_headless_chromium(page, record_property):
    entries = len(page["entries"])
    with Browser(width=1280, height=1000) as browser:
        browser.open(page["path"].as_uri())
        status = "document.body.dataset"
        ready = (
            f"Number({status}.playersLoaded) === {entries} && Number({status}.audioDecoded) === {entries}"
            f" && {status}.visualizers && {status}.visualizersDrawn === {status}.visualizers"
        )
        assert browser.wait_until(ready, timeout=60), browser.evaluate(f"JSON.stringify({status})")
        assert browser.evaluate("document.querySelectorAll('midi-player').length") == entries
        assert browser.evaluate("customElements.get('midi-player') !== undefined")
        durations = browser.evaluate("Array.from(document.querySelectorAll('audio')).map((a) => a.duration)")
        # v2-small: sample_00, its humanized version, sample_01, the interpolation and its humanized version.
        in_page_order = [8, 8, 24, 8, 8, 8, 24, 24]
        assert [round(d) for d in durations] == in_page_order, "each loop lasts its 4 bars (24 s: 3 steps)"
        midi_durations = browser.evaluate("Array.from(document.querySelectorAll('midi-player')).map((p) => p.duration)")
        assert midi_durations == in_page_order, "the MIDI players end on the last bar line too"
        # 3 interpolation steps, one row each, per interpolation, plus a roll per sample.
        assert browser.evaluate("document.querySelectorAll('.steps midi-visualizer').length") == 3 * 3
        names = browser.evaluate("Array.from(document.querySelectorAll('#variant-v2-small .beat')).map((b) => b.id)")
        assert names == [
            "v2-small-temp0-5-seed2018-sample_00",
            "v2-small-temp0-5-seed2018-sample_00-humanized",
            "v2-small-temp0-5-seed2018-sample_01",
            "v2-small-temp0-5-seed2018-interpolation",
            "v2-small-temp0-5-seed2018-interpolation-humanized",
        ]

        # Play the first sample's audio as a click would: time runs and the playhead follows.
        assert (
            browser.evaluate("document.querySelector('audio').play().then(() => 'playing')", user_gesture=True)
            == "playing"
        )
        assert browser.wait_until("document.querySelector('audio').currentTime > 0.3", timeout=20)
        assert browser.evaluate("document.querySelector('.beat .playhead').style.display") == "block"
        browser.evaluate("document.querySelector('audio').pause()")

        # Sorting the comparison table by kl_bits puts the smaller first.
        browser.evaluate("document.querySelectorAll('#comparison th')[1].click()")
        assert browser.evaluate("document.querySelector('#comparison tbody td').textContent") == "v2-small"

        time.sleep(0.5)
        screenshot = browser.screenshot(ARTEFACTS / "report_page.png")
        errors = browser.console_errors()
        page_errors = browser.evaluate(f"{status}.errors")
    record_property("screenshot", str(screenshot))
    print(f"screenshot: {screenshot}")
    assert errors == [] and page_errors == "0", errors
    assert screenshot.stat().st_size > 50_000


def test_without_audio_the_page_still_has_a_midi_player_per_beat(tmp_path):
    midis = [write_midi(retimed(magenta_decoded(63), 120, num_bars=4), tmp_path / "sample_00.mid")]
    midis.append(interpolation_midi(tmp_path / "interpolation.mid"))
    entries = [{"variant": "v", "name": "sample_00"}, {"variant": "v", "name": "interpolation"}]
    (tmp_path / "comparison.tsv").write_text("variant\tkl_bits\nv\t1.5\n")
    page = build_report_page(
        entries, midis, None, tmp_path / "comparison.tsv", tmp_path / "beats.html", REPOSITORY / "report"
    )
    text = page.read_text()
    assert text.count("<midi-player ") == 2 and "<audio " not in text and text.count('download="v-') == 2
    with pytest.raises(ValueError, match="2 beats but 1 MIDI files"):
        build_report_page(
            entries, midis[:1], None, tmp_path / "comparison.tsv", tmp_path / "x.html", REPOSITORY / "report"
        )


def test_page_texts_round_trip_through_their_file_with_markup_and_accents(tmp_path):
    from beatvae.report_page import PageTexts, read_page_texts, write_page_texts

    descriptions = {"v1": "</script><img src=x onerror=alert(1)>", "v2": "Rock beats, Schlagzeug à la GMD"}
    texts = PageTexts(descriptions, {"v1": "<b>funk</b>", "v2": "rock"}, {"source": "files", "first": "a.mid"})
    path = write_page_texts(texts, tmp_path / "report" / "descriptions.json")
    assert read_page_texts(path) == texts
    assert sorted(p.name for p in path.parent.iterdir()) == ["descriptions.json"]


# ---------------------------------------------------------------- players that load before the page's script


@pytest.fixture(scope="module")
def many_samples(tmp_path_factory):
    """Pages of 16 and 64 four-bar samples (each ending before its last bar line, as Magenta's do),
    with audio (one rendered loop shared by every card: the page's size, not its sound, matters)."""
    from beatvae.render import encode_ogg, render_loop

    folder = tmp_path_factory.mktemp("many")
    midis = [
        write_midi(retimed(magenta_decoded(41 + index % 20), 120, num_bars=4), folder / f"sample_{index:02d}.mid")
        for index in range(64)
    ]
    render_loop(midis[0], folder / "loop.wav", SOUNDFONT, 22050)
    ogg = encode_ogg(folder / "loop.wav", folder / "loop.ogg")
    (folder / "comparison.tsv").write_text("variant\tkl_bits\nv2\t1.5\n")
    pages = {}
    for count in (16, 64):
        entries = [{"variant": "v2", "name": f"temp0.75-seed2018/sample_{index:02d}"} for index in range(count)]
        common = (entries, midis[:count], [ogg] * count, folder / "comparison.tsv")
        pages[count] = build_report_page(*common, folder / f"beats-{count}.html", REPOSITORY / "report")
        pages[count, "single file"] = build_report_page(
            *common, folder / f"beats-{count}-single.html", REPOSITORY / "report", single_file_copy=True
        )
    return pages


def with_page_script_run_late(page, path):
    """The page with its own script run only once every MIDI player has loaded, as on a big page that
    the browser parses in slices while the players load."""
    text = page.read_text()
    start = text.index('<script id="page-script">') + len('<script id="page-script">')
    end = text.index("</script>", start)
    late = (
        "(function whenEveryPlayerHasLoaded() {\n"
        "  const players = Array.from(document.querySelectorAll('midi-player'));\n"
        "  const loaded = players.every((p) => p.noteSequence && p.duration > 0);\n"
        "  if (!loaded) return setTimeout(whenEveryPlayerHasLoaded, 50);\n"
        f"{text[start:end]}\n}})();\n"
    )
    path.write_text(text[:start] + late + text[end:])
    return path


@in_headless_chromium
@pytest.mark.parametrize("count", [16, 64])
def test_every_player_lasts_its_four_bars_even_when_it_loaded_before_the_page_script(many_samples, count, tmp_path):
    status = "document.body.dataset"
    for page in (many_samples[count], with_page_script_run_late(many_samples[count], tmp_path / "late.html")):
        with Browser() as browser:
            browser.open(page.as_uri(), timeout=300)  # 64 players take a while on a busy machine
            loaded = browser.wait_until(f"Number({status}.playersLoaded) === {count} && {status}.loaded", timeout=120)
            durations = browser.evaluate("Array.from(document.querySelectorAll('midi-player')).map((p) => p.duration)")
            assert loaded and durations == [8] * count, (page.name, browser.evaluate(f"JSON.stringify({status})"))


# ---------------------------------------------------------------- Snakemake's single-file report


def open_as_snakemake_report_does(browser, page, tmp_path):
    """The page shown as Snakemake's single-file report shows an HTML result: an iframe whose src is
    the page as a base64 data: URL (snakemake/report/html_reporter, content.js)."""
    uri = "data:text/html;base64," + base64.b64encode(page.read_bytes()).decode("ascii")
    viewer = tmp_path / "report.html"
    viewer.write_text(f'<!DOCTYPE html><iframe style="width:1200px;height:900px" src="{uri}"></iframe>')
    browser.open(viewer.as_uri(), timeout=180)
    return len(uri)


@in_headless_chromium
def test_the_single_file_report_plays_the_copy_without_audio_and_says_where_the_audio_is(many_samples, tmp_path):
    full, copy = many_samples[64], many_samples[16, "single file"]
    assert full.stat().st_size > SINGLE_FILE_REPORT_LIMIT > many_samples[64, "single file"].stat().st_size
    assert "<audio " not in copy.read_text() and copy.read_text().count("<midi-player ") == 16
    with Browser() as browser:
        assert open_as_snakemake_report_does(browser, copy, tmp_path) < 2 * 2**20
        assert browser.wait_until("true", timeout=1)
        deadline = time.monotonic() + 120
        while browser.evaluate_in_frame("Number(document.body.dataset.playersLoaded)") != 16:
            assert time.monotonic() < deadline, browser.evaluate_in_frame("JSON.stringify(document.body.dataset)")
            time.sleep(0.3)
        notice = browser.evaluate_in_frame("document.querySelector('.notice').innerText")
        assert "no rendered audio" in notice and "results/report/beats.html" in notice and ".zip" in notice
        browser.screenshot(ARTEFACTS / "single_file_report_listen.png")
    with Browser() as browser:  # the full page is over Chromium's limit: blank, as the caption warns
        open_as_snakemake_report_does(browser, full, tmp_path)
        time.sleep(3)
        assert not browser.evaluate_in_frame("document.body ? document.body.innerText : ''")
    caption = (REPOSITORY / "report" / "beats.rst").read_text()
    assert "stays blank" in caption and "beats-without-audio.html" in caption and "report.zip" in caption
    readme = (REPOSITORY / "README.md").read_text()
    assert "--report results/report.zip" in readme and "beats-without-audio.html" in readme


# ---------------------------------------------------------------- accessibility


@in_headless_chromium
@pytest.mark.parametrize("width", [1280, 560])
def test_axe_finds_nothing_serious_and_every_control_is_named(page, width):
    with Browser(width=width, height=900) as browser:
        browser.open(page["path"].as_uri())
        assert browser.wait_until("document.body.dataset.loaded", timeout=60)
        assert browser.accessibility_violations() == []
        # Each audio player and download link says which beat it plays or downloads.
        audio = browser.evaluate(
            "Array.from(document.querySelectorAll('audio')).map((a) => a.getAttribute('aria-label'))"
        )
        links = browser.evaluate("Array.from(document.querySelectorAll('a[download]')).map((a) => a.textContent)")
        assert len(set(audio)) == len(audio) == len(page["entries"]) and all(audio)
        assert len(set(links)) == len(links) == len(page["entries"]), links
        assert "MIDI of v2-small temp0.5-seed2018/sample_00 (humanized) ↓" in links
        # Sort headers take focus (they are buttons); a scrolling roll or table takes focus and has a name.
        assert browser.evaluate("Array.from(document.querySelectorAll('th')).every((h) => h.querySelector('button'))")
        unreachable = browser.evaluate(
            "Array.from(document.querySelectorAll('.roll, .table-scroll'))"
            ".filter((e) => e.scrollWidth > e.clientWidth && !(e.tabIndex === 0 && e.getAttribute('aria-label')))"
            ".map((e) => e.outerHTML.slice(0, 120))"
        )
        assert unreachable == []
        rolls = browser.evaluate(
            "Array.from(document.querySelectorAll('.roll'))"
            ".map((r) => r.getAttribute('role') + ': ' + r.getAttribute('aria-label'))"
        )
        assert all(roll.startswith("img: piano roll of ") and " hits: kick " in roll for roll in rolls), rolls


# ---------------------------------------------------------------- finding things


def test_the_page_names_style_curves_lanes_endpoints_and_puts_targets_first(page):
    text = page["path"].read_text()
    assert '<h2>v2-small: <span class="style">rock beats</span></h2>' in text
    assert 'href="#variant-v2-small">v2-small: rock beats</a>' in text
    section = text[
        text.index('<section id="variant-v2-small">') : text.index("</section>", text.index('id="variant-v2-small"'))
    ]
    # Loss and validation curves, each chart with a text alternative giving the figures.
    charts = re.findall(r'<svg role="img" aria-label="([^"]+)"', section)
    assert len(charts) == 2, charts
    assert (
        "training loss 9.5 at step 0, 4.25 at step 100" in charts[0]
        and "validation loss 9.8 at step 0, 5.5 at step 100" in charts[0]
    )
    assert "validation free-running accuracy 0.1 at step 0, 0.33 at step 100" in charts[1]
    # Drum lanes named beside every roll.
    lanes = re.findall(r'<div class="lanes" aria-hidden="true">(.*?)</div>', section)
    assert lanes and all(re.findall(r">([a-z -]+)</span>", one) == LANE_ORDER for one in lanes)
    # The interpolation says which beats it runs between, and links them.
    assert (
        '<h3>Interpolation from <a href="#v2-small-temp0-5-seed2018-sample_01">sample_01</a> to '
        '<a href="#v2-small-temp0-5-seed2018-sample_00">sample_00</a> of the samples (4 bars per step)</h3>'
    ) in section


LANE_ORDER = ["kick", "snare", "hi-hat", "open hat", "low tom", "mid tom", "high tom", "crash", "ride"]


def test_targets_come_first_and_the_comparison_is_cut_into_topics(tmp_path):
    midi = write_midi(retimed(magenta_decoded(63), 120, num_bars=4), tmp_path / "sample_00.mid")
    columns = {
        "variant": "v2", "targets_met": "not all", "target_two_sample": "not met", "target_fill": "met",
        "two_sample_accuracy": "0.65", "two_sample_floor": "0.5", "sample_fill": "0.15", "real_fill": "0.16",
        "validation_teacher_forced_accuracy": "0.9", "validation_free_running_accuracy": "0.5",
        "validation_kl_bits": "30", "sample_distance": "0.32", "baseline_distance": "0.3",
        "sample_notes_per_bar": "15.3", "real_notes_per_bar": "15.9",
        "exact_copies": "0", "mean_nearest_hamming": "40", "warnings": "",
    }  # fmt: skip
    (tmp_path / "comparison.tsv").write_text("\t".join(columns) + "\n" + "\t".join(columns.values()) + "\n")
    (tmp_path / "targets.tsv").write_text("variant\ttarget\tmet\nv2\ttwo_sample\tno\n")
    text = build_report_page(
        [{"variant": "v2", "name": "sample_00"}], [midi], None, tmp_path / "comparison.tsv",
        tmp_path / "beats.html", REPOSITORY / "report", targets_tsv=tmp_path / "targets.tsv",
    ).read_text()  # fmt: skip
    assert text.index('<section id="targets">') < text.index('<section id="variant-v2">')
    comparison = text[text.index('<section id="comparison">') :]
    topics = re.findall(r"<h3>(.*?)</h3>", comparison)
    assert topics[:3] == ["Quality targets", "Realism: samples beside held-out real playing", "Held-out reconstruction"]
    tables = re.findall(r"<table.*?</table>", comparison, flags=re.S)
    headers = [re.findall(r"<button type=\"button\">(.*?)</button>", table) for table in tables]
    assert headers[0] == ["variant", "targets_met", "target_two_sample", "target_fill"]
    assert all(table[0] == "variant" and len(table) <= 6 for table in headers), headers
    assert sorted(sum((table[1:] for table in headers), [])) == sorted(list(columns)[1:]), "every column, once"


# ---------------------------------------------------------------- earlier batches


def test_earlier_batches_on_disk_stay_on_the_page(tmp_path):
    results = tmp_path / "results"
    for tag, count in (("temp0.5-seed1", 2), ("temp0.75-seed2018", 3)):
        for index in range(count):
            sequence = retimed(magenta_decoded(41 + index), 120, num_bars=4)
            write_midi(sequence, results / "samples" / "v2" / tag / f"sample_{index:02d}.mid")
        interpolation_midi(results / "interpolations" / "v2" / tag / "interpolation.mid")
    humanized_copy(
        results / "samples/v2/temp0.5-seed1/sample_00.mid", results / "humanized/v2/temp0.5-seed1/sample_00.mid"
    )
    (results / "samples" / "v2" / "temp0.5-seed1" / "sample_09.mid.partial").write_bytes(b"half")
    current = [f"temp0.75-seed2018/sample_{index:02d}" for index in range(3)] + ["temp0.75-seed2018/interpolation"]
    entries = [{"variant": "v2", "name": name} for name in current]
    folder = {"sample": "samples", "interpolation": "interpolations"}
    midis = [results / folder[name.split("/")[1].split("_")[0]] / "v2" / f"{name}.mid" for name in current]
    earlier = earlier_batches(results, entries)
    assert [(batch.variant, batch.tag) for batch in earlier] == [("v2", "temp0.5-seed1")]
    assert [(beat["name"], beat["humanized"]) for beat in earlier[0].beats] == [
        ("temp0.5-seed1/sample_00", False), ("temp0.5-seed1/sample_01", False),
        ("temp0.5-seed1/interpolation", False), ("temp0.5-seed1/sample_00", True),
    ]  # fmt: skip
    (tmp_path / "comparison.tsv").write_text("variant\tkl_bits\nv2\t1.5\n")
    text = build_report_page(
        entries, midis, None, tmp_path / "comparison.tsv", tmp_path / "beats.html", REPOSITORY / "report",
        earlier=earlier,
    ).read_text()  # fmt: skip
    assert "<h3>Earlier batches still on disk</h3>" in text
    assert "<summary>temp0.5-seed1: 2 samples and an interpolation, each with its humanized version</summary>" in text
    assert 'id="v2-temp0-5-seed1-sample_00-humanized"' in text and 'id="v2-temp0-5-seed1-interpolation"' in text
    assert text.count("<midi-player ") == len(entries) + 4 and 'data-players="8"' in text


def test_the_explorer_lists_the_runs_samples_with_their_notes_and_latents(tmp_path):
    """run_beats: each sample of the run (not its humanized copy, not the interpolation) with its MIDI's
    notes on the 16th grid at the run's tempo and its row of latents.npy; the section carries them."""
    import html
    import json

    import numpy as np

    from beatvae.page_explorer import explorer_section, run_beats

    qpm = 90
    sample = retimed(magenta_decoded(last_step=61, pitches=(36, 42, 38, 51)), qpm, num_bars=4)
    midi = write_midi(sample, tmp_path / "sample_01.mid")
    latents = (np.arange(16, dtype=np.float32).reshape(2, 8) / 7).astype(np.float32)
    np.save(tmp_path / "latents.npy", latents)
    beats = [
        {"name": "t0.5-s3/sample_01", "midi": midi, "humanized": False},
        {"name": "t0.5-s3/sample_01", "midi": midi, "humanized": True},
        {"name": "t0.5-s3/interpolation", "midi": midi, "humanized": False},
    ]
    generation = {"temperature": 0.5, "seed": 3, "qpm": qpm}
    run = run_beats(beats, tmp_path / "latents.npy", generation)
    assert [beat["label"] for beat in run] == ["run sample_01 (temperature 0.5, seed 3)"]
    assert run[0]["z"] == latents[1].tolist()
    assert run[0]["notes"] == [[step, note.pitch, 80] for step, note in zip(range(0, 62, 2), sample.notes, strict=True)]
    assert run_beats(beats, None, generation) == [], "no latents given: no run beats"

    section = explorer_section("drums", None, generation, run)
    carried = re.search(r'data-run-beats="([^"]*)"', section)[1]
    assert json.loads(html.unescape(carried)) == run


def test_the_explorers_tempo_field_takes_the_schemas_bounds_and_the_runs_tempo():
    from beatvae.page_explorer import explorer_section
    from beatvae.schema import setting_schema

    bounds = setting_schema("generation.qpm")
    section = explorer_section("drums", None, {"temperature": 0.5, "seed": 3, "qpm": 93})
    field = re.search(r'<input type="number" name="qpm" min="([\d.]+)" max="([\d.]+)" value="([\d.]+)">', section)
    assert field and [float(x) for x in field.groups()] == [bounds["minimum"], bounds["maximum"], 93]
