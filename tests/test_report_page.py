"""The report page plays every beat: built from small MIDIs, rendered and encoded for real, then
loaded in a real headless Chromium (Debian's `chromium`); a full-page screenshot is kept."""

import os
import shutil
import time
from pathlib import Path

import mido
import pytest
from note_seq import sequences_lib

from beatvae.midi import retimed, write_midi
from beatvae.report_page import build_report_page, comparison_table, midi_segments

try:  # tests/ as a package or as a plain rootdir-on-sys.path directory
    from .headless_chromium import CHROMIUM, Browser
    from .test_midi import magenta_decoded
except ImportError:
    from headless_chromium import CHROMIUM, Browser
    from test_midi import magenta_decoded

REPOSITORY = Path(__file__).resolve().parents[1]
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
ARTEFACTS = Path(os.environ.get("BEATVAE_TEST_ARTEFACTS", REPOSITORY / "results" / "test-artefacts"))

needs_browser_and_audio = pytest.mark.skipif(
    CHROMIUM is None or shutil.which("fluidsynth") is None or shutil.which("oggenc") is None or not SOUNDFONT.is_file(),
    reason="needs chromium, fluidsynth, fluid-soundfont-gm and vorbis-tools (make system-packages, as root)",
)


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
    path = build_report_page(
        entries, midis, oggs, folder / "comparison.tsv", folder / "beats.html", REPOSITORY / "report",
        variants={"v1-small": "all of the sample", "v2-small": "rock beats"},
        generation={"num_samples": 2, "temperature": 0.5, "seed": 2018, "qpm": 120},
    )  # fmt: skip
    return {"path": path, "entries": entries, "midis": midis, "oggs": oggs}


@needs_browser_and_audio
def test_page_is_self_contained_and_small(page):
    text = page["path"].read_text()
    assert "<script src=" not in text and "http://" not in text.split("<script>", 1)[0]
    assert text.count("<midi-player ") == len(page["entries"]) and text.count("<audio ") == len(page["entries"])
    embedded = sum(p.stat().st_size for p in page["oggs"]) + 3 * sum(p.stat().st_size for p in page["midis"])
    # base64 costs a third more; the vendored players ~0.6 MB: no WAV or other payload slipped in.
    assert page["path"].stat().st_size < embedded * 4 / 3 + 1.0e6


@needs_browser_and_audio
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


def test_descriptions_round_trip_through_their_file_with_markup_and_accents(tmp_path):
    from beatvae.report_page import read_descriptions, write_descriptions

    descriptions = {"v1": "</script><img src=x onerror=alert(1)>", "v2": "Rock beats, Schlagzeug à la GMD"}
    path = write_descriptions(descriptions, tmp_path / "report" / "descriptions.json")
    assert read_descriptions(path) == descriptions
    assert sorted(p.name for p in path.parent.iterdir()) == ["descriptions.json"]
