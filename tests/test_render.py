import shutil
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from note_seq import midi_io
from note_seq.protobuf import music_pb2

from beatvae.metrics import DRUM_CLASS_NAMES
from beatvae.midi import midi_length_seconds, write_midi
from beatvae.render import (
    AudioRenderError,
    AudioToolsMissing,
    check_audio_tools,
    encode_ogg,
    looped,
    plot_piano_roll,
    render_audio,
    render_loop,
    render_stems,
    wav_stats,
)

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
INSTALL_HINT = "apt-get install fluidsynth fluid-soundfont-gm"
DISABLE_HINT = "audio: {enabled: false}"

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not SOUNDFONT.is_file(),
    reason=f"audio rendering needs fluidsynth and {SOUNDFONT}: {INSTALL_HINT}",
)
needs_oggenc = pytest.mark.skipif(shutil.which("oggenc") is None, reason="needs oggenc: apt-get install vorbis-tools")


def drum_sequence(bars, qpm=120.0):
    """Kick on 1 and 3, snare on 2 and 4, closed hat on every 8th with rising velocity."""
    sixteenth = 60.0 / qpm / 4
    sequence = music_pb2.NoteSequence(ticks_per_quarter=220)
    sequence.tempos.add(qpm=qpm)
    sequence.time_signatures.add(numerator=4, denominator=4)
    for step in range(bars * 16):
        start = step * sixteenth
        drums = []
        if step % 8 == 0:
            drums.append(36)
        if step % 8 == 4:
            drums.append(38)
        if step % 2 == 0:
            drums.append(42)
        for pitch in drums:
            sequence.notes.add(
                pitch=pitch,
                velocity=40 + step % 80,
                start_time=start,
                end_time=start + sixteenth,
                is_drum=True,
                instrument=9,
            )
    # A last hat ending exactly on the final barline makes the MIDI file exactly `bars` long.
    last_start = (bars * 16 - 1) * sixteenth
    sequence.notes.add(
        pitch=42,
        velocity=60,
        start_time=last_start,
        end_time=last_start + sixteenth,
        is_drum=True,
        instrument=9,
    )
    sequence.total_time = bars * 16 * sixteenth
    return sequence


@pytest.fixture
def four_bar_midi(tmp_path):
    import mido

    path = tmp_path / "four_bars.mid"
    midi_io.sequence_proto_to_midi_file(drum_sequence(bars=4), str(path))
    channels = {message.channel for message in mido.MidiFile(path) if message.type == "note_on"}
    assert channels == {9}, "drums must be on General MIDI channel 10 (9 counting from 0)"
    return path


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def crimson_pixels(path):
    import matplotlib.image

    rgb = matplotlib.image.imread(path)[..., :3]
    # Segment separators are matplotlib's "crimson" (220, 20, 60).
    return int(np.sum(np.all(np.abs(rgb - np.array([220, 20, 60]) / 255) < 0.05, axis=-1)))


def write_wav(path, samples, sample_rate, sample_width):
    scale = 2 ** (8 * sample_width - 1) - 1
    integers = np.round(samples * scale).astype(np.int64)
    if sample_width == 2:
        frames = integers.astype("<i2").tobytes()
    else:  # 24-bit: the low three bytes of each little-endian int32
        frames = integers.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(sample_width)
        wav.setframerate(sample_rate)
        wav.writeframes(frames)


@pytest.mark.parametrize("sample_width", [2, 3])
def test_wav_stats_of_a_known_sine(tmp_path, sample_width):
    sample_rate = 8000
    time = np.arange(2 * sample_rate) / sample_rate
    sine = -0.5 * np.sin(2 * np.pi * 100 * time)  # whole periods: RMS is exactly amplitude/sqrt(2)
    write_wav(tmp_path / "sine.wav", sine, sample_rate, sample_width)
    stats = wav_stats(tmp_path / "sine.wav")
    assert stats["duration_s"] == 2.0
    assert stats["sample_rate"] == sample_rate and stats["channels"] == 1
    assert stats["peak"] == pytest.approx(0.5, abs=1e-3)
    assert stats["rms"] == pytest.approx(0.5 / np.sqrt(2), abs=1e-3)


def test_wav_stats_of_silence(tmp_path):
    write_wav(tmp_path / "silence.wav", np.zeros(4410), 44100, 2)
    stats = wav_stats(tmp_path / "silence.wav")
    assert stats["duration_s"] == pytest.approx(0.1)
    assert stats["peak"] == 0.0 and stats["rms"] == 0.0


@needs_fluidsynth
def test_rendered_four_bars_at_120_qpm_last_eight_seconds_and_are_audible(four_bar_midi, tmp_path):
    wav_path = render_audio(four_bar_midi, tmp_path / "out" / "four_bars.wav", SOUNDFONT)
    stats = wav_stats(wav_path)
    assert stats["sample_rate"] == 44100
    # 16 beats at 120 qpm are 8 s; fluidsynth appends the release tail of the last notes.
    assert 8.0 <= stats["duration_s"] < 12.0
    assert stats["rms"] > 0.005
    assert 0.05 < stats["peak"] <= 1.0


@needs_fluidsynth
def test_render_audio_uses_the_requested_sample_rate(four_bar_midi, tmp_path):
    stats = wav_stats(render_audio(four_bar_midi, tmp_path / "low.wav", SOUNDFONT, sample_rate=22050))
    assert stats["sample_rate"] == 22050
    assert stats["duration_s"] >= 8.0


@needs_fluidsynth
def test_render_audio_failure_reports_fluidsynth_stderr(tmp_path):
    not_midi = tmp_path / "not_midi.mid"
    not_midi.write_text("this is not a MIDI file")
    with pytest.raises(AudioRenderError) as error:
        render_audio(not_midi, tmp_path / "out.wav", SOUNDFONT)
    message = str(error.value)
    assert str(not_midi) in message
    assert message.split("stderr:\n", 1)[1].split("\nstdout:")[0].strip(), "stderr is missing"
    assert not (tmp_path / "out.wav").exists()


def test_check_audio_tools_names_the_packages_for_a_missing_soundfont(tmp_path):
    missing = tmp_path / "no_such_soundfont.sf2"
    with pytest.raises(AudioToolsMissing) as error:
        check_audio_tools(missing)
    message = str(error.value)
    assert str(missing) in message and "apt-get install fluid-soundfont-gm" in message and DISABLE_HINT in message


def test_check_audio_tools_names_the_packages_without_fluidsynth(tmp_path, monkeypatch):
    soundfont = tmp_path / "present.sf2"
    soundfont.write_bytes(b"RIFF")
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH on which no fluidsynth can be found
    with pytest.raises(AudioToolsMissing) as error:
        check_audio_tools(soundfont)
    message = str(error.value)
    assert "`fluidsynth` command" in message and "apt-get install fluidsynth`" in message
    assert DISABLE_HINT in message
    with pytest.raises(AudioToolsMissing):
        render_audio(tmp_path / "any.mid", tmp_path / "any.wav", soundfont)
    with pytest.raises(AudioToolsMissing, match="apt-get install vorbis-tools"):
        encode_ogg(tmp_path / "any.wav", tmp_path / "any.ogg")


@needs_fluidsynth
def test_check_audio_tools_passes_when_everything_is_installed():
    assert check_audio_tools(SOUNDFONT) is None


def test_piano_roll_png_is_valid_and_widens_with_bars(four_bar_midi, tmp_path):
    import matplotlib.image

    four_bars = plot_piano_roll(four_bar_midi, tmp_path / "four.png", title="four bars")
    image = matplotlib.image.imread(four_bars)
    width_4, height_4 = png_size(four_bars)
    assert image.shape[:2] == (height_4, width_4)
    assert image[..., :3].std() > 0.05, "the image is blank"

    sizes = {}
    for bars in (8, 16, 64):
        path = plot_piano_roll(drum_sequence(bars), tmp_path / f"{bars}.png")
        sizes[bars] = png_size(path)
    assert {height for _, height in sizes.values()} == {height_4}
    assert width_4 < sizes[8][0] < sizes[16][0] <= sizes[64][0]
    assert sizes[64][0] <= 3200, "width must stay bounded for long sequences"
    assert width_4 / height_4 >= 1.5


def test_piano_roll_segment_separators(tmp_path):
    thirty_two_bars = drum_sequence(32)
    plain = plot_piano_roll(thirty_two_bars, tmp_path / "plain.png")
    segmented = plot_piano_roll(thirty_two_bars, tmp_path / "segmented.png", highlight_segments=4)
    assert crimson_pixels(plain) == 0
    # 9 separators (8 segments of 4 bars), each a full-height line a couple of pixels wide.
    assert crimson_pixels(segmented) > 9 * 150


def orange_pixels(path):
    import matplotlib.image

    rgb = matplotlib.image.imread(path)[..., :3]
    # The timing lane is matplotlib's "darkorange" (255, 140, 0).
    return int(np.sum(np.all(np.abs(rgb - np.array([255, 140, 0]) / 255) < 0.05, axis=-1)))


def test_piano_roll_of_a_played_beat_shows_its_timing_off_the_grid(tmp_path):
    from beatvae.render import note_onsets

    quantized = drum_sequence(4)
    played = drum_sequence(4)
    for index, note in enumerate(played.notes):  # up to 30 ms early or late, as a drummer plays
        shift = (index % 7 - 3) * 0.01
        note.start_time, note.end_time = max(0.0, note.start_time + shift), note.end_time + shift
    onsets, classes, velocities, step_seconds = note_onsets(played)
    assert step_seconds == 0.125 and len(onsets) == len(played.notes)
    assert not np.allclose(onsets, np.round(onsets)) and len(set(velocities)) > 1

    plain = plot_piano_roll(quantized, tmp_path / "quantized.png")
    timed = plot_piano_roll(played, tmp_path / "played.png")
    assert orange_pixels(plain) == 0, "a beat on the grid has no timing lane"
    assert png_size(timed)[1] > png_size(plain)[1] and orange_pixels(timed) > 200


def test_looped_folds_the_ring_out_onto_the_loop_start():
    audio = np.arange(1, 26, dtype=float)[:, None] / 1000  # 25 samples, a 10-sample loop
    loop = looped(audio, 10, "fold")
    expected = audio[:10, 0] + np.r_[audio[10:20, 0]] + np.r_[audio[20:25, 0], np.zeros(5)]
    assert loop.shape == (10, 1)
    np.testing.assert_allclose(loop[:, 0], expected)


def test_looped_fades_the_cut_and_pads_short_audio():
    audio = np.ones((30, 2)) * 0.5
    loop = looped(audio, 20, "fade", fade_samples=5)
    assert loop.shape == (20, 2)
    np.testing.assert_allclose(loop[:15], 0.5)
    assert loop[-1].max() == 0.0 and np.all(np.diff(loop[15:, 0]) < 0)
    padded = looped(np.ones((3, 1)) * 0.5, 8, "fold")
    np.testing.assert_allclose(padded[:, 0], [0.5] * 3 + [0] * 5)


def test_looped_keeps_a_fold_from_clipping_and_names_bad_modes():
    assert np.abs(looped(np.ones((20, 1)) * 0.9, 10, "fold")).max() < 1.0
    with pytest.raises(ValueError, match="audio.loop"):
        looped(np.ones((20, 1)), 10, "crossfade")


def loop_midi(path, bars, qpm):
    from beatvae.midi import retimed

    return write_midi(retimed(drum_sequence(bars, qpm=120.0), qpm, num_bars=bars), path)


@needs_fluidsynth
@pytest.mark.parametrize("loop, qpm, sample_rate", [("fold", 120, 44100), ("fade", 93, 22050)])
def test_render_loop_is_exactly_as_long_as_the_midi(tmp_path, loop, qpm, sample_rate):
    import soundfile

    midi = loop_midi(tmp_path / "beat.mid", 4, qpm)
    tail_path = tmp_path / "tail.wav"
    lengths = render_loop(midi, tmp_path / "beat.wav", SOUNDFONT, sample_rate, loop, 10, with_tail_path=tail_path)
    audio, rate = soundfile.read(tmp_path / "beat.wav", always_2d=True)
    tail, _ = soundfile.read(tail_path, always_2d=True)
    assert rate == sample_rate
    assert abs(len(audio) - midi_length_seconds(midi) * sample_rate) <= 1
    assert abs(len(audio) - 16 * 60 / qpm * sample_rate) <= 1
    assert lengths["samples"] == len(audio) and len(tail) > len(audio), "cymbals ring past the loop end"
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name or p.name.startswith(".render")]
    n = len(audio)
    if loop == "fold":  # the ring-out sounds again at the loop start, where it belongs
        ring_out = np.zeros_like(audio)
        ring_out[: len(tail) - n] = tail[n:]
        np.testing.assert_allclose(audio, tail[:n] + ring_out, atol=2 / 32768)
    else:
        fade = int(0.010 * sample_rate)
        np.testing.assert_allclose(audio[: n - fade], tail[: n - fade], atol=1 / 32768)
        assert np.abs(audio[-1]).max() < 1e-3


@needs_fluidsynth
def test_render_stems_one_loop_per_drum_class(tmp_path):
    import soundfile

    midi = loop_midi(tmp_path / "beat.mid", 4, 120)
    stems = render_stems(midi, [tmp_path / "stems" / f"{name}.wav" for name in DRUM_CLASS_NAMES], SOUNDFONT, 22050)
    levels = {}
    for name, stem in zip(DRUM_CLASS_NAMES, stems, strict=True):
        audio, rate = soundfile.read(stem, always_2d=True)
        assert abs(len(audio) - 8.0 * rate) <= 1, name
        levels[name] = np.abs(audio).max()
    used = {DRUM_CLASS_NAMES[0], DRUM_CLASS_NAMES[1], DRUM_CLASS_NAMES[2]}  # kick, snare, closed hat
    assert all(levels[name] > 0.01 for name in used), levels
    assert all(levels[name] == 0 for name in set(DRUM_CLASS_NAMES) - used), levels


@needs_fluidsynth
@needs_oggenc
def test_ogg_copy_decodes_to_the_loop_length(tmp_path):
    import soundfile

    midi = loop_midi(tmp_path / "beat.mid", 4, 120)
    render_loop(midi, tmp_path / "beat.wav", SOUNDFONT, 44100)
    ogg = encode_ogg(tmp_path / "beat.wav", tmp_path / "beat.ogg", quality=3)
    decoded, rate = soundfile.read(ogg, always_2d=True)
    assert soundfile.info(ogg).format == "OGG" and rate == 44100
    assert abs(len(decoded) - 8.0 * rate) <= 1
    assert np.abs(decoded).max() > 0.05
    assert ogg.stat().st_size < (tmp_path / "beat.wav").stat().st_size / 5
