"""A trained model exported for the browser (beatvae.browser_model) and run there by the page's beat
explorer with @magenta/music: the export holds exactly the network's weights under the names
magenta.js looks up, and in headless Chromium the page decodes a latent vector into the same drum
notes as the Python model (slow tier: a tiny model is trained on the real GMD sample)."""

import json
import re
import time

import numpy as np
import pytest

from beatvae.browser_model import export
from beatvae.settings import BROWSER_CONFIG_FILE, BROWSER_MANIFEST_FILE, BROWSER_WEIGHTS_FILE
from test_report_page import ARTEFACTS, in_headless_chromium
from test_training import finished, run_training, tiny_variant

Z_SIZE, ENCODER_UNITS, DECODER_UNITS = 8, 32, 32


def small_variant(num_steps):
    """The tests' tiny hierdec MusicVAE, smaller still: parity needs a trained model, not a good one."""
    variant = tiny_variant(num_steps=num_steps, checkpoint_every=num_steps)
    variant["hparams"].update(z_size=Z_SIZE, enc_rnn_size=[ENCODER_UNITS], dec_rnn_size=[DECODER_UNITS] * 2)
    return variant


@pytest.fixture(scope="module")
def trained_drums(data_half, tmp_path_factory):
    """A drums model folder (roll in, 512 classes out, one conductor step per bar), 60 steps on rock beats."""
    from conftest import DRUMS

    data = data_half("rock", {"style": "rock", "beat_type": "beat", "time_signature": "4-4"}, DRUMS)
    root = tmp_path_factory.mktemp("browser-drums")
    finished(run_training(small_variant(60), data["windows"]["train"], root / "checkpoints", root / "model"))
    return root / "model"


@pytest.fixture(scope="module")
def exported_drums(trained_drums, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported") / "drums"
    return folder, export(trained_drums, folder)


def magenta_js_names(encoder_layers=1, decoder_layers=2, conductor_layers=2):
    """Every variable name magenta.js's MusicVAE.initialize looks up for a flat bidirectional encoder and
    a flat categorical decoder (music_vae/model.ts), plus the conductor the page runs around it."""
    cell = "cell_{}/lstm_cell/"
    names = {f"encoder/{layer}/{part}" for layer in ("mu", "sigma") for part in ("kernel", "bias")}
    for direction in ("fw", "bw"):
        for index in range(encoder_layers):
            prefix = f"encoder/cell_{index}/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0/lstm_cell/"
            names |= {prefix + "kernel", prefix + "bias"}
    for index in range(decoder_layers):
        names |= {f"decoder/multi_rnn_cell/{cell.format(index)}{part}" for part in ("kernel", "bias")}
    for index in range(conductor_layers):
        names |= {f"decoder/hierarchical_level_0/{cell.format(index)}{part}" for part in ("kernel", "bias")}
    for layer in (
        "decoder/z_to_initial_state/",
        "decoder/output_projection/",
        "decoder/hierarchical_level_0/initial_state/",
    ):
        names |= {layer + "kernel", layer + "bias"}
    return names


@pytest.mark.slow
def test_export_holds_the_checkpoints_weights_under_the_names_magenta_js_reads(trained_drums, exported_drums):
    import tensorflow as tf

    folder, result = exported_drums
    manifest = json.loads((folder / BROWSER_MANIFEST_FILE).read_text())
    entries = manifest[0]["weights"]
    assert manifest[0]["paths"] == [BROWSER_WEIGHTS_FILE] and len(manifest) == 1
    assert {entry["name"] for entry in entries} == magenta_js_names(), "no Adam slot, step counter or missing layer"
    shard = np.frombuffer((folder / BROWSER_WEIGHTS_FILE).read_bytes(), "<f4")
    assert shard.nbytes == result["bytes"] == 4 * sum(int(np.prod(entry["shape"])) for entry in entries)

    # Each value is the checkpoint's, in manifest order; the core decoder's weights under the flat name.
    from beatvae.model import TrainedModelDir

    reader = tf.train.load_checkpoint(TrainedModelDir.load(trained_drums).checkpoint)
    offset = 0
    for entry in entries:
        size = int(np.prod(entry["shape"]))
        source = entry["name"]
        if source.startswith("decoder/") and not source.startswith("decoder/hierarchical_level_0/"):
            source = "core_decoder/" + source
        np.testing.assert_array_equal(shard[offset : offset + size].reshape(entry["shape"]), reader.get_tensor(source))
        offset += size
    core_kernel = next(entry for entry in entries if entry["name"] == "decoder/multi_rnn_cell/cell_0/lstm_cell/kernel")
    # The core decoder reads the previous step's one-hot (512 classes) and its bar's conductor embedding.
    assert core_kernel["shape"] == [512 + DECODER_UNITS + DECODER_UNITS, 4 * DECODER_UNITS]

    spec = json.loads((folder / BROWSER_CONFIG_FILE).read_text())
    assert spec["type"] == "MusicVAE" and spec["dataConverter"]["type"] == "DrumsConverter"
    args = spec["dataConverter"]["args"]
    assert args["numSteps"] == 64 and "numSegments" not in args, "magenta.js loads it as a flat model"
    assert [pitches[0] for pitches in args["pitchClasses"]] == [36, 38, 42, 46, 45, 48, 50, 49, 51]
    assert spec["beatvae"]["conductor"] == {"numSegments": 4, "autoregressive": True}
    assert spec["beatvae"]["zSize"] == Z_SIZE


def test_export_refuses_what_magenta_js_cannot_run(tmp_path):
    from beatvae.browser_model import check_supported
    from beatvae.model import TrainedModelDir
    from conftest import DRUMS

    variant = small_variant(10)
    variant["hparams"]["enc_rnn_size"] = [32, 32]
    variant["model"]["level_lengths"] = [2, 2, 16]
    model = TrainedModelDir(tmp_path, variant, DRUMS, str(tmp_path / "model.ckpt-10"), {})
    with pytest.raises(ValueError, match="single-layer BidirectionalLstmEncoder.*one conductor level"):
        check_supported(model)


def page_with_models(tmp_path, models):
    """A bare page that loads the explorer and `models` ({name: exported folder}) as the report page does."""
    from beatvae.page_explorer import explorer_scripts
    from conftest import REPO

    page = tmp_path / "explorer.html"
    scripts = explorer_scripts(REPO / "report", models)
    page.write_text(f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{scripts}</head><body></body></html>')
    return page


# [[step, pitch], ...] per decoded sequence, sorted.
NOTES_JS = """beatvaeExplorer.decode({name}, {zs}, {temperature}).then((sequences) => JSON.stringify(
  sequences.map((s) => s.notes.map((n) => [n.quantizedStartStep, n.pitch])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]))))"""


@pytest.mark.slow
@in_headless_chromium
def test_the_page_decodes_a_latent_into_the_python_models_drum_notes(trained_drums, exported_drums, tmp_path):
    """Parity: both sides take the most likely drum class combination step by step, so every note must
    agree; a wrong weight, name or wiring (what the conductor reads of the bar before) changes them.

    The page takes the argmax (magenta.js without a temperature); Python's decoder only samples, at
    1e-8 here: at 1e-4 it still picks between classes whose logits lie within about 1e-3 of each
    other, and two Python runs of 32 latents at 1e-4 disagreed on 3 (none at 1e-8)."""
    from beatvae.model import TrainedModelDir
    from headless_chromium import Browser

    model = TrainedModelDir.load(trained_drums)
    z = np.random.default_rng(7).standard_normal((32, Z_SIZE)).astype(np.float32)
    sequences = model.trained_model(batch_size=len(z), seed=0).decode(z, length=64, temperature=1e-8)
    step_seconds = 60 / 120 / 4  # Magenta's decoder writes 120 qpm
    expected = [sorted([round(note.start_time / step_seconds), note.pitch] for note in s.notes) for s in sequences]
    assert sum(map(len, expected)) >= 12 and len({json.dumps(notes) for notes in expected}) >= 2, "a test worth running"

    page = page_with_models(tmp_path, {"drums": exported_drums[0]})
    with Browser() as browser:
        browser.open(page.as_uri())
        decoded = browser.evaluate(NOTES_JS.format(name='"drums"', zs=json.dumps(z.tolist()), temperature=0))
        assert browser.console_errors() == []
    assert json.loads(decoded) == expected


def downloaded(browser, link_js, path):
    """Clicks a beat's MIDI link (its file is made on the click) and saves the file it links to."""
    import base64

    before = browser.evaluate(f"{link_js}.href")
    browser.evaluate(f"{link_js}.click()", user_gesture=True)
    assert browser.wait_until(f"{link_js}.href.startsWith('blob:') && {link_js}.href !== {json.dumps(before)}", 30)
    data = browser.evaluate(
        f"fetch({link_js}.href).then((r) => r.arrayBuffer()).then((buffer) => {{"
        " let text = ''; new Uint8Array(buffer).forEach((x) => { text += String.fromCharCode(x); });"
        " return btoa(text); })"
    )
    path.write_bytes(base64.b64decode(data))
    return path


RUN = {"temperature": 0.5, "seed": 11, "qpm": 100}  # the run's generation settings: its samples and the page's
RUN_SAMPLES = 4


@pytest.fixture(scope="module")
def run_samples(trained_drums, tmp_path_factory):
    """The run's samples of the drums model as rule sample_beats writes them: 4-bar MIDIs at the run's
    tempo and latents.npy (row i: sample_{i:02d}), under their sampling-settings folder."""
    from beatvae.generation import generate_samples
    from beatvae.model import TrainedModelDir

    folder = tmp_path_factory.mktemp("samples") / "drums" / "t0.5-s11"
    folder.mkdir(parents=True)
    paths = [folder / f"sample_{i:02d}.mid" for i in range(RUN_SAMPLES)]
    generate_samples(TrainedModelDir.load(trained_drums), RUN, paths, folder / "latents.npy")
    return paths, folder / "latents.npy"


def choose_kit(browser, section, program):
    """Picks the Kit (its General MIDI program) as a user does: the select's change event follows."""
    kit = f"{section}.querySelector('select[name=kit]')"
    browser.evaluate(f"{kit}.value = '{program}'; {kit}.dispatchEvent(new Event('change'))")


# The explorer's beats, oldest first: {label, z, notes [[step, pitch, velocity]] or segments of them}.
BEATS_JS = """{section}.explorerBeats.map((beat) => ({{label: beat.label, z: beat.z,
  notes: beat.sequence ? beat.sequence.notes.map((n) => [n.quantizedStartStep, n.pitch, n.velocity]) : null,
  segments: beat.segments ? beat.segments.map((s) => s.notes.map((n) => [n.quantizedStartStep, n.pitch])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])) : null}}))"""


@pytest.mark.slow
@in_headless_chromium
def test_generate_on_the_report_page_makes_beats_that_play_one_at_a_time_and_download_as_4_bar_loops(
    exported_drums, run_samples, tmp_path
):
    from beatvae.report_page import build_report_page
    from conftest import REPO
    from headless_chromium import Browser
    from test_midi import check_loop

    midis, latents = run_samples
    (tmp_path / "comparison.tsv").write_text("variant\tkl_bits\ndrums\t1.5\n")
    entries = [{"variant": "drums", "name": f"t0.5-s11/{midi.stem}"} for midi in midis]
    common = (entries, midis, None, tmp_path / "comparison.tsv")
    explorer = {"models": {"drums": exported_drums[0]}, "groove": None, "latents": {"drums": latents}}
    page = build_report_page(*common, tmp_path / "beats.html", REPO / "report", explorer=explorer, generation=RUN)
    single = build_report_page(
        *common, tmp_path / "single.html", REPO / "report", explorer=explorer, single_file_copy=True
    )
    assert 'class="explorer"' not in single.read_text() and "beatvaeExplorer" not in single.read_text()

    section = "document.getElementById('explorer-drums')"
    beats = f"Array.from({section}.querySelectorAll('li.explorer-beat'))"  # newest first
    idle = f"!{section}.dataset.busy"
    with Browser() as browser:
        browser.open(page.as_uri())
        assert browser.wait_until(f"{section}.dataset.ready === 'true'", 60), "the model loads from file://"
        assert browser.wait_until("document.body.dataset.playersLoaded === '4'", 60), "the page's players still load"

        # The run's samples come first: their notes are their MIDI files', their z their latents.npy rows.
        listed = json.loads(browser.evaluate(f"JSON.stringify({BEATS_JS.format(section=section)})"))
        assert [beat["label"] for beat in listed] == [
            f"run sample_{i:02d} (temperature 0.5, seed 11)" for i in range(RUN_SAMPLES)
        ]
        for beat, midi, z in zip(listed, midis, np.load(latents), strict=True):
            notes, _, ticks = midi_notes(midi)
            assert sorted(beat["notes"]) == sorted(
                [tick * 4 // ticks, pitch, velocity] for tick, pitch, velocity in notes
            )
            assert all(tick % (ticks // 4) == 0 for tick, _, _ in notes), "a sample's hits lie on 16ths"
            np.testing.assert_array_equal(np.float32(beat["z"]), z)
        assert sum(len(beat["notes"]) for beat in listed) > 0, "samples with notes: a test worth running"
        assert browser.evaluate(f"{section}.querySelector('input[name=qpm]').value") == "100", "the run's tempo"

        browser.evaluate(f"{section}.querySelector('[data-action=generate]').click()", user_gesture=True)
        assert browser.wait_until(f"{section}.dataset.beats === '8' && {idle}", 60)
        notes = browser.evaluate(f"{beats}.map((li) => Number(li.querySelector('svg').dataset.notes))")
        assert len(notes) == 8 and sum(count > 0 for count in notes[:4]) >= 3, notes
        titles = browser.evaluate(f"{beats}.map((li) => li.querySelector('.beat-title').textContent)")
        assert "seed 11, temperature 0.5" in titles[3] and "run sample_03" in titles[4], titles
        browser.screenshot(ARTEFACTS / "explorer_generate.png")

        # One beat plays at a time, with the kit chosen: each of its notes one sampled hit of that kit.
        choose_kit(browser, section, 25)
        play = f"{beats}[{{}}].querySelector('button.play')"
        with_notes = notes.index(max(notes))
        browser.evaluate(f"{play.format(with_notes)}.click()", user_gesture=True)
        playing = f"document.body.dataset.explorerPlaying === {beats}[{with_notes}].id"
        assert browser.wait_until(f"{playing} && document.body.dataset.explorerKit === 'TR-808'", 20)
        assert browser.evaluate("document.body.dataset.explorerSources") == str(notes[with_notes])
        choose_kit(browser, section, 40)
        assert browser.evaluate("document.body.dataset.explorerPlaying") == "", "a new kit stops the beat"

        # Switching beats quickly: the one clicked last plays, with no error (no late hit refused).
        for index in range(8):
            browser.evaluate(f"{play.format(index)}.click()", user_gesture=True)
        pressed = browser.evaluate(f"{beats}.map((li) => li.querySelector('button.play').getAttribute('aria-pressed'))")
        assert pressed == ["false"] * 7 + ["true"]
        assert browser.wait_until(
            f"document.body.dataset.explorerPlaying === {beats}[7].id && document.body.dataset.explorerKit === 'brush'"
        )
        time.sleep(1)  # the hits of the beats stopped would have sounded by now
        assert browser.console_errors() == []

        # The download is the beat at the page's tempo: a 4-bar loop, at the run's 100 and at 93 qpm.
        link = f"{beats}[{with_notes}].querySelector('a.download')"
        check_loop(downloaded(browser, link, tmp_path / "beat-100.mid"), bars=4, qpm=100)
        browser.evaluate(f"{section}.querySelector('input[name=qpm]').value = '93'")
        check_loop(downloaded(browser, link, tmp_path / "beat-93.mid"), bars=4, qpm=93)

        # A run beat and a generated beat interpolate: 8 segments, the first the run beat's z decoded
        # (the page's own decode at temperature 0, the interpolation's temperature here), the last the
        # generated beat's, between them the slerp of the two z (beatvae.generation.slerp). A pair whose
        # z decode differently, else the segments could not tell them apart (a tiny model's most likely
        # beats are few).
        from beatvae.generation import slerp

        now = json.loads(browser.evaluate(f"JSON.stringify({BEATS_JS.format(section=section)})"))
        decode_all = NOTES_JS.format(name='"drums"', zs=json.dumps([beat["z"] for beat in now]), temperature=0)
        most_likely = json.loads(browser.evaluate(decode_all))
        pairs = [(run, new) for run in range(RUN_SAMPLES) for new in range(RUN_SAMPLES, 8)]
        run, new = next(((r, n) for r, n in pairs if most_likely[r] != most_likely[n]), (None, None))
        assert run is not None, "the run's and the new beats' z all decode to one beat: a test worth running"
        browser.evaluate(f"{section}.querySelector('input[name=temperature]').value = '0'")
        for index in (run, new):
            browser.evaluate(f"{section}.explorerBeats[{index}].element.querySelector('input.pick').click()")
        browser.evaluate(f"{section}.querySelector('[data-action=interpolate]').click()", user_gesture=True)
        assert browser.wait_until(f"{section}.dataset.beats === '9' && {idle}", 60)
        interpolation = json.loads(browser.evaluate(f"JSON.stringify({BEATS_JS.format(section=section)})"))[-1]
        assert interpolation["label"] == f"interpolation from beat {run + 1} to beat {new + 1} (8 steps of 4 bars)"
        segments = interpolation["segments"]
        assert len(segments) == 8 and segments[0] == most_likely[run] and segments[-1] == most_likely[new]
        zs = slerp(now[run]["z"], now[new]["z"], np.linspace(0, 1, 8))
        walk = NOTES_JS.format(name='"drums"', zs=json.dumps(zs.tolist()), temperature=0)
        assert segments == json.loads(browser.evaluate(walk))
        browser.screenshot(ARTEFACTS / "explorer_run_interpolation.png")

        # Beats stay listed: the next click adds new ones (the seed moved on) below nothing lost.
        browser.evaluate(f"{section}.querySelector('[data-action=generate]').click()", user_gesture=True)
        assert browser.wait_until(f"{section}.dataset.beats === '13' && {idle}", 60)
        assert "seed 12" in browser.evaluate(f"{beats}[0].querySelector('.beat-title').textContent")
        assert browser.console_errors() == []
        assert browser.accessibility_violations() == [], "every control named, reachable by keyboard"


@pytest.fixture(scope="module")
def trained_groove(data_half, tmp_path_factory):
    """A GrooVAE humanize model with hits as controls (the default config's recipe, tiny), 60 steps."""
    from conftest import GROOVE

    data = data_half("all", {"time_signature": "4-4"}, GROOVE)
    variant = small_variant(60)
    variant["model"].update(level_lengths=None)
    variant["hparams"].update(sampling_schedule="constant", sampling_rate=0.0)
    root = tmp_path_factory.mktemp("browser-groove")
    finished(
        run_training(variant, data["windows"]["train"], root / "checkpoints", root / "model", representation=GROOVE)
    )
    return root / "model", data["windows"]["validation"]


@pytest.mark.slow
@in_headless_chromium
def test_the_page_humanizes_a_window_of_hits_as_the_python_groove_model_does(trained_groove, tmp_path):
    """Groove parity: for real held-out hits, the page's decoded hits are the Python model's and its
    velocities and offsets agree to float precision (the decoder's hits at 1e-8 in Python, the most
    likely ones in the page, as in the drums test)."""
    from beatvae.dataset import Windows
    from beatvae.groove import humanize_windows
    from beatvae.model import TrainedModelDir
    from headless_chromium import Browser

    model_dir, validation = trained_groove
    folder = tmp_path / "groove"
    export(model_dir, folder)
    spec = json.loads((folder / BROWSER_CONFIG_FILE).read_text())
    assert spec["dataConverter"]["type"] == "GrooveConverter" and spec["extraControls"] == [
        {"name": "hits", "depth": 9}
    ]
    windows = Windows.load(validation)
    busiest = np.argsort(windows.controls.sum(axis=(1, 2)))[-3:]  # windows with many hits
    trained = TrainedModelDir.load(model_dir).trained_model(batch_size=1, seed=0)
    inputs, controls = windows.inputs[busiest].astype(np.float32), windows.controls[busiest]
    inputs[..., 9:] = 0  # humanize: hits only in
    expected = humanize_windows(trained, inputs, controls, temperature=1e-8)
    assert expected[..., 9:18].std() > 0.01, "velocities that vary: a test worth running"

    page = page_with_models(tmp_path, {"groove": folder})
    with Browser() as browser:
        browser.open(page.as_uri())
        decoded = [
            browser.evaluate(f"beatvaeExplorer.groove('groove', {json.dumps(hits.astype(int).tolist())})")
            for hits in controls
        ]
        assert browser.console_errors() == []
    decoded = np.asarray(decoded, np.float32)
    np.testing.assert_array_equal(decoded[..., :9], expected[..., :9])
    np.testing.assert_allclose(decoded[..., 9:], expected[..., 9:], atol=1e-4)


def midi_notes(path):
    """[(onset in ticks, pitch, velocity)] of a type-0 drum file, and its length in ticks."""
    import mido

    midi = mido.MidiFile(path)
    now, notes = 0, []
    for message in midi.tracks[0]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            notes.append((now, message.note, message.velocity))
    return notes, now, midi.ticks_per_beat


@pytest.mark.slow
@in_headless_chromium
def test_variations_interpolation_and_humanizing_on_the_page(exported_drums, trained_groove, tmp_path):
    from beatvae.report_page import build_report_page
    from conftest import REPO
    from headless_chromium import Browser
    from test_midi import check_loop

    groove = tmp_path / "groove"
    export(trained_groove[0], groove)
    (tmp_path / "comparison.tsv").write_text("variant\tkl_bits\ndrums\t1.5\n")
    from beatvae.midi import retimed, write_midi
    from test_midi import magenta_decoded

    midi = write_midi(retimed(magenta_decoded(), 120, num_bars=4), tmp_path / "sample_00.mid")
    page = build_report_page(
        [{"variant": "drums", "name": "sample_00"}], [midi], None, tmp_path / "comparison.tsv",
        tmp_path / "beats.html", REPO / "report",
        explorer={"models": {"drums": exported_drums[0], "groove": groove}, "groove": "groove"},
        generation={"temperature": 0, "seed": 3},
    )  # fmt: skip
    text = page.read_text()
    sections = re.findall(r'<section id="explorer-[^"]*" class="explorer"', text)
    assert len(sections) == 1, "the groove model only humanizes"

    section = "document.getElementById('explorer-drums')"
    beats = f"Array.from({section}.querySelectorAll('li.explorer-beat'))"
    idle = f"!{section}.dataset.busy"
    with Browser() as browser:
        browser.open(page.as_uri())
        assert browser.wait_until(f"{section}.dataset.ready === 'true'", 60)
        count = f"{section}.querySelector('input[name=count]')"
        browser.evaluate(f"{count}.value = '6'")
        browser.evaluate(f"{section}.querySelector('[data-action=generate]').click()", user_gesture=True)
        assert browser.wait_until(f"{section}.dataset.beats === '6' && {idle}", 60)
        rolls = f"{beats}.map((li) => li.querySelector('svg').innerHTML)"
        notes = browser.evaluate(f"{beats}.map((li) => Number(li.querySelector('svg').dataset.notes))")
        source = notes.index(max(notes))  # the beat with the most hits (newest first: beat 6 - source)
        assert notes[source] > 0, notes  # a tiny model's most likely beats are often silent

        # More like this: variations around it; no nudge at temperature 0 gives the beat again.
        browser.evaluate(f"{section}.querySelector('input[name=nudge]').value = '0'; {count}.value = '2'")
        browser.evaluate(f"{beats}[{source}].querySelector('button:not(.play)').click()", user_gesture=True)
        assert browser.wait_until(f"{section}.dataset.beats === '8' && {idle}", 60)
        drawn = browser.evaluate(rolls)
        assert drawn[0] == drawn[1] == drawn[source + 2], "the two new beats are copies of their source"
        assert f"like beat {6 - source}" in browser.evaluate(f"{beats}[0].querySelector('.beat-title').textContent")

        # Interpolate two picked beats: 8 steps of 4 bars, its MIDI 32 bars long; the slider walks it.
        for index in (source + 2, 2 if source else 3):
            browser.evaluate(f"{beats}[{index}].querySelector('input.pick').click()")
        browser.evaluate(f"{section}.querySelector('[data-action=interpolate]').click()", user_gesture=True)
        assert browser.wait_until(f"{section}.dataset.beats === '9' && {idle}", 60)
        assert "over 32 bars" in browser.evaluate(f"{beats}[0].querySelector('svg').getAttribute('aria-label')")
        check_loop(downloaded(browser, f"{beats}[0].querySelector('a.download')", tmp_path / "walk.mid"), 32, 120)
        walk = f"{section}.querySelector('input[name=walk]')"
        browser.evaluate(f"{walk}.value = '3'; {walk}.dispatchEvent(new Event('input'))", user_gesture=True)
        assert browser.wait_until(f"document.body.dataset.explorerPlaying === {beats}[0].id", 20)
        assert "step 4 of 8" in browser.evaluate(f"{section}.querySelector('output').textContent")
        # The next step plays at once, while the one before still does.
        browser.evaluate(f"{walk}.value = '5'; {walk}.dispatchEvent(new Event('input'))", user_gesture=True)
        assert browser.wait_until(f"{section}.querySelector('output').textContent.includes('step 6 of 8')", 20)
        assert browser.wait_until(f"document.body.dataset.explorerPlaying === {beats}[0].id", 20)
        time.sleep(0.5)  # a toggle-off would have come by now
        assert browser.evaluate(f"{beats}[0].querySelector('button.play').getAttribute('aria-pressed')") == "true"

        # Humanize: the same hits, played with the groove model's velocities and timing.
        link = f"{beats}[{source + 3}].querySelector('a.download')"
        plain, plain_end, ticks = midi_notes(downloaded(browser, link, tmp_path / "plain.mid"))
        browser.evaluate(f"{section}.querySelector('input[name=humanize]').checked = true")
        played, played_end, _ = midi_notes(downloaded(browser, link, tmp_path / "played.mid"))
        assert played_end == plain_end == 16 * ticks, "still exactly 4 bars"
        assert sorted(pitch for _, pitch, _ in played) == sorted(pitch for _, pitch, _ in plain), "every hit stays"
        assert len({velocity for _, _, velocity in played}) > 3 and {v for _, _, v in plain} == {80}
        step = ticks // 4
        assert any(onset % step for onset, _, _ in played), "some hits leave the grid"
        assert all(abs(onset - round(onset / step) * step) <= step // 2 for onset, _, _ in played)
        assert browser.console_errors() == []
        browser.screenshot(ARTEFACTS / "explorer_variations_and_walk.png")
