"""Ways to look at and listen to drum beats: piano-roll PNGs, FluidSynth WAV renders, WAV checks."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np


INSTALL_HINT = (
    "install it with `apt-get install fluidsynth fluid-soundfont-gm` (as root), "
    "or set `audio: {enabled: false}` in the config to skip audio rendering"
)

# Figure geometry: readable cells for a few bars, bounded for long interpolations.
_INCHES_PER_BAR = 0.9
_MIN_WIDTH_INCHES = 6.0
_MAX_WIDTH_INCHES = 32.0
_HEIGHT_INCHES = 3.2
_DPI = 100


class AudioToolsMissing(RuntimeError):
    """fluidsynth or the soundfont it needs is not available."""


class AudioRenderError(RuntimeError):
    """fluidsynth ran but did not produce a WAV file."""


def _load_note_sequence(note_sequence_or_midi_path):
    if isinstance(note_sequence_or_midi_path, (str, Path)):
        import note_seq

        return note_seq.midi_file_to_note_sequence(str(note_sequence_or_midi_path))
    return note_sequence_or_midi_path


def figure_width_inches(num_bars: float) -> float:
    """Width of a piano-roll figure: grows with the bars, clipped to a readable range."""
    return float(np.clip(1.5 + _INCHES_PER_BAR * num_bars, _MIN_WIDTH_INCHES, _MAX_WIDTH_INCHES))


def plot_piano_roll(
    note_sequence_or_midi_path,
    png_path,
    title=None,
    steps_per_quarter=4,
    quarters_per_bar=4,
    highlight_segments=None,
):
    """Draw drum lanes x 16th-note steps, cells shaded by velocity, with bar lines, into a PNG.

    `highlight_segments`: a number of bars; heavy separators every that many bars, segments
    numbered along the top (e.g. 4 for a 32-bar interpolation made of 8 four-bar steps).
    Returns the PNG path.
    """
    # A bare Figure draws with Agg and leaves pyplot's global backend and state alone.
    from matplotlib import colormaps, colors
    from matplotlib.figure import Figure

    # note_seq is slow to import; the workflow imports this module at parse time for its checks.
    from beatvae.metrics import DRUM_CLASS_NAMES, roll_from_note_sequence

    note_sequence = _load_note_sequence(note_sequence_or_midi_path)
    steps_per_bar = steps_per_quarter * quarters_per_bar
    roll, velocity = roll_from_note_sequence(note_sequence, steps_per_quarter, quarters_per_bar)
    if len(roll) == 0:
        roll, velocity = roll_from_note_sequence(
            note_sequence, steps_per_quarter, quarters_per_bar, num_steps=steps_per_bar
        )
    num_steps = len(roll)
    num_bars = num_steps / steps_per_bar

    figure = Figure(
        figsize=(figure_width_inches(num_bars), _HEIGHT_INCHES), dpi=_DPI, layout="constrained"
    )
    axes = figure.subplots()
    # Darker is louder; the lightest blue is kept well off white so soft hits stay visible.
    colormap = colors.ListedColormap(colormaps["Blues"](np.linspace(0.3, 1.0, 256))).with_extremes(
        bad="white"
    )
    shaded = np.ma.masked_where(~roll.T, velocity.T)
    # Kick at the bottom, cymbals on top, as drummers read a kit.
    image = axes.imshow(
        shaded,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap=colormap,
        vmin=0,
        vmax=127,
        extent=(-0.5, num_steps - 0.5, -0.5, len(DRUM_CLASS_NAMES) - 0.5),
    )
    figure.colorbar(image, ax=axes, label="velocity", pad=0.01, fraction=0.03)

    for step in range(0, num_steps + 1, steps_per_quarter):
        is_bar_line = step % steps_per_bar == 0
        axes.axvline(
            step - 0.5,
            color="0.35" if is_bar_line else "0.85",
            linewidth=0.8 if is_bar_line else 0.4,
            zorder=2,
        )
    if highlight_segments:
        segment_steps = int(round(highlight_segments * steps_per_bar))
        segment_starts = np.arange(0, num_steps, segment_steps)
        for step in [*segment_starts, num_steps]:
            axes.axvline(step - 0.5, color="crimson", linewidth=2.0, zorder=3)
        segment_centres = (
            segment_starts + np.minimum(segment_starts + segment_steps, num_steps)
        ) / 2 - 0.5
        segment_axis = axes.secondary_xaxis("top")
        segment_axis.set_xticks(
            segment_centres, [str(n) for n in range(1, len(segment_starts) + 1)]
        )
        segment_axis.tick_params(length=0, labelsize=8, labelcolor="crimson")

    axes.set_yticks(
        range(len(DRUM_CLASS_NAMES)), [name.replace("_", " ") for name in DRUM_CLASS_NAMES]
    )
    whole_bars = int(np.ceil(num_bars))
    label_every = max(1, int(np.ceil(whole_bars / 32)))  # keep bar numbers from overlapping
    bar_starts = range(0, whole_bars, label_every)
    axes.set_xticks(
        [bar * steps_per_bar - 0.5 for bar in bar_starts], [str(bar + 1) for bar in bar_starts]
    )
    axes.set_xlabel("bar")
    if title:
        axes.set_title(title, fontsize=10)

    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png_path, dpi=_DPI)
    return png_path


def check_audio_tools(soundfont):
    """Raise AudioToolsMissing, saying what to install, unless fluidsynth and `soundfont` exist."""
    problems = []
    if shutil.which("fluidsynth") is None:
        problems.append("the `fluidsynth` command is not on PATH")
    if not Path(soundfont).is_file():
        problems.append(f"the soundfont {soundfont} does not exist")
    if problems:
        raise AudioToolsMissing(
            f"cannot render audio: {'; '.join(problems)}. To fix, {INSTALL_HINT}."
        )


def render_audio(midi_path, wav_path, soundfont, sample_rate=44100):
    """Render a MIDI file to a 16-bit WAV with the fluidsynth command line; returns the WAV path."""
    check_audio_tools(soundfont)
    midi_path, wav_path = Path(midi_path), Path(wav_path)
    if not midi_path.is_file():
        raise FileNotFoundError(f"MIDI file {midi_path} does not exist")
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    wav_path.unlink(missing_ok=True)  # a stale file must not pass for a fresh render
    command = [
        "fluidsynth",
        "-ni",  # no MIDI input, no interactive shell
        "-q",
        "-g", "1.0",
        "-r", str(sample_rate),
        "-T", "wav",
        "-O", "s16",
        "-F", str(wav_path),
        str(soundfont),
        str(midi_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    # fluidsynth exits 0 for some failures (e.g. an unreadable MIDI file), so check the output too.
    if result.returncode != 0 or not wav_path.is_file() or wav_path.stat().st_size <= 44:
        raise AudioRenderError(
            f"fluidsynth failed to render {midi_path} to {wav_path} (exit code {result.returncode}).\n"
            f"command: {' '.join(command)}\nstderr:\n{result.stderr.strip()}\n"
            f"stdout:\n{result.stdout.strip()}"
        )
    return wav_path


def wav_stats(wav_path) -> dict:
    """{"duration_s", "peak", "rms", "sample_rate", "channels"} of a PCM WAV; amplitudes in [0, 1]."""
    with wave.open(str(wav_path), "rb") as wav:
        sample_rate = wav.getframerate()
        channels = wav.getnchannels()
        sample_width = wav.getsampwidth()
        num_frames = wav.getnframes()
        raw = wav.readframes(num_frames)

    if sample_width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif sample_width == 3:
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        samples = values / float(1 << 23)
    elif sample_width in (2, 4):
        dtype = np.dtype(f"<i{sample_width}")
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(
            2 ** (8 * sample_width - 1)
        )
    else:
        raise ValueError(f"{wav_path}: unsupported sample width of {sample_width} bytes")

    peak = float(np.abs(samples).max()) if samples.size else 0.0
    rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
    return {
        "duration_s": num_frames / sample_rate,
        "peak": peak,
        "rms": rms,
        "sample_rate": sample_rate,
        "channels": channels,
    }
