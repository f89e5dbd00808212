"""Ways to look at and listen to drum beats: piano-roll PNGs, loopable FluidSynth WAV renders (whole
kit or one stem per drum class), OGG Vorbis copies for the report page, WAV checks."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import wave
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from beatvae.files import scratch_folder, temporary_beside, written_atomically
from beatvae.midi import midi_length_seconds, sequence_qpm
from beatvae.settings import DRUM_CLASS_NAMES

# The Debian package that provides each tool the rendering jobs run.
PACKAGES = {"fluidsynth": "fluidsynth", "soundfont": "fluid-soundfont-gm", "oggenc": "vorbis-tools"}
DISABLE_HINT = "or set `audio: {enabled: false}` in the config to skip audio rendering"
LOOP_MODES = ("fold", "fade")

# Figure geometry: readable cells for a few bars, bounded for long interpolations.
_INCHES_PER_BAR = 0.9
_MIN_WIDTH_INCHES = 6.0
_MAX_WIDTH_INCHES = 32.0
_HEIGHT_INCHES = 3.2
_TIMING_LANE_INCHES = 1.2
_OFF_GRID_MS = 0.5  # onsets closer to the grid than this are on it (MIDI ticks round them)
_DPI = 100


class AudioToolsMissing(RuntimeError):
    """fluidsynth, the soundfont it needs or the OGG encoder is not available."""


class AudioRenderError(RuntimeError):
    """fluidsynth or oggenc ran but did not produce its file."""


class AudioWriteError(AudioRenderError):
    """An audio file could not be written: a full disk, a read-only folder. Names the file and the cause."""


# How much a folder must still take after a failed write for the failure not to be blamed on it.
_PROBE_BYTES = 1 << 20
_FULL = (errno.ENOSPC, errno.EDQUOT)
# Failures that writing causes (reading a missing input keeps its own error).
_WRITE_ERRNOS = (*_FULL, errno.EROFS, errno.EFBIG, errno.EIO)


def _write_error(cause: OSError, path) -> AudioWriteError:
    """The error for `path` not written because of `cause`, saying what to do, in two lines at most."""
    remedy = "free space on its disk" if cause.errno in _FULL else "check that its folder can be written"
    return AudioWriteError(f"{cause.strerror or cause} writing {path}: {remedy}, {DISABLE_HINT}")


def _unwritable(path) -> OSError | None:
    """Why the folder of `path` cannot take another MiB now (a full disk, a read-only folder), or None.

    fluidsynth, oggenc and libsndfile report a full disk vaguely ("System error.", "Failed writing
    data"), or not at all (fluidsynth exits 0 leaving a truncated file): writing a probe file there,
    while their partial file still takes its space, finds the real cause.
    """
    probe = temporary_beside(path, ".probe")
    try:
        with open(probe, "wb") as handle:
            handle.write(bytes(_PROBE_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        return error
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    return None


@contextlib.contextmanager
def _write_errors_named(path):
    """Turns an OSError (it says its cause) raised while making `path` into an AudioWriteError naming `path`."""
    try:
        yield
    except OSError as error:
        if error.errno not in _WRITE_ERRNOS:
            raise
        raise _write_error(error, path) from error


def _load_note_sequence(note_sequence_or_midi_path):
    if isinstance(note_sequence_or_midi_path, (str, Path)):
        import note_seq

        return note_seq.midi_file_to_note_sequence(str(note_sequence_or_midi_path))
    return note_sequence_or_midi_path


def figure_width_inches(num_bars: float) -> float:
    """Width of a piano-roll figure: grows with the bars, clipped to a readable range."""
    return float(np.clip(1.5 + _INCHES_PER_BAR * num_bars, _MIN_WIDTH_INCHES, _MAX_WIDTH_INCHES))


def note_onsets(note_sequence, steps_per_quarter=4):
    """(onset in grid steps, drum class, velocity) of each drum-class note, at its real time.

    Steps are counted from the first tempo (the sequences drawn here have one); a note played
    on the grid has a whole-number onset, a humanized one lies off it.
    """
    from beatvae.metrics import PITCH_TO_DRUM_CLASS

    qpm = sequence_qpm(note_sequence)
    step_seconds = 60.0 / qpm / steps_per_quarter
    notes = [
        (note.start_time / step_seconds, PITCH_TO_DRUM_CLASS[note.pitch], note.velocity)
        for note in note_sequence.notes
        if note.is_drum and note.pitch in PITCH_TO_DRUM_CLASS
    ]
    onsets, classes, velocities = np.array(notes, dtype=np.float64).reshape(-1, 3).T
    return onsets, classes.astype(int), velocities, step_seconds


class DrawnNotes(NamedTuple):
    """The notes a piano roll draws: those that start inside its whole bars."""

    num_steps: int  # the roll's length in grid steps (whole bars)
    onsets: np.ndarray  # float [notes]: onset in grid steps, at the note's real time
    classes: np.ndarray  # int [notes]: drum class (lane)
    velocities: np.ndarray  # float [notes]
    grid_ms: np.ndarray  # float [notes]: distance from the nearest grid step in ms (negative: early)

    @property
    def off_grid(self) -> bool:
        """Whether any note lies off the 16th grid by more than a rounding error (a humanized beat)."""
        return bool(np.abs(self.grid_ms).max(initial=0.0) > _OFF_GRID_MS)


def drawn_notes(note_sequence, steps_per_quarter: int, quarters_per_bar: int) -> DrawnNotes:
    """The notes of `note_sequence` a piano roll draws, on a grid of whole bars."""
    # note_seq is slow to import; the workflow imports this module at parse time for its checks.
    from beatvae.metrics import roll_from_note_sequence

    roll, _ = roll_from_note_sequence(note_sequence, steps_per_quarter, quarters_per_bar)
    num_steps = len(roll) or steps_per_quarter * quarters_per_bar
    onsets, classes, velocities, step_seconds = note_onsets(note_sequence, steps_per_quarter)
    inside = onsets < num_steps - 0.5
    onsets, classes, velocities = onsets[inside], classes[inside], velocities[inside]
    grid_ms = (onsets - np.round(onsets)) * step_seconds * 1000
    return DrawnNotes(num_steps, onsets, classes, velocities, grid_ms)


def plot_piano_roll(
    note_sequence_or_midi_path,
    png_path,
    title=None,
    steps_per_quarter=4,
    quarters_per_bar=4,
    highlight_segments=None,
):
    """Draw drum lanes x 16th-note steps, with bar lines, into a PNG.

    Each note is a box at its real onset (its left edge on the onset, a gap before the next
    step), shaded by velocity. When any onset lies off the 16th grid (a humanized beat), a timing lane below shows
    each note's distance from its grid step in milliseconds (negative: played early), since a few
    milliseconds are too small to see in the lanes themselves.
    `highlight_segments`: a number of bars; heavy separators every that many bars, segments
    numbered along the top (e.g. 4 for a 32-bar interpolation made of 8 four-bar steps).
    Returns the PNG path.
    """
    # A bare Figure draws with Agg and leaves pyplot's global backend and state alone.
    from matplotlib.figure import Figure

    notes = drawn_notes(_load_note_sequence(note_sequence_or_midi_path), steps_per_quarter, quarters_per_bar)
    steps_per_bar = steps_per_quarter * quarters_per_bar
    num_bars = notes.num_steps / steps_per_bar
    height = _HEIGHT_INCHES + (_TIMING_LANE_INCHES if notes.off_grid else 0.0)
    figure = Figure(figsize=(figure_width_inches(num_bars), height), dpi=_DPI, layout="constrained")
    if notes.off_grid:
        axes, timing = figure.subplots(2, 1, sharex=True, height_ratios=[_HEIGHT_INCHES - 0.6, _TIMING_LANE_INCHES])
    else:
        axes, timing = figure.subplots(), None
    lanes = [axes] if timing is None else [axes, timing]
    figure.colorbar(_velocity_boxes(axes, notes), ax=lanes, label="velocity", pad=0.01, fraction=0.03)
    _beat_lines(lanes, notes.num_steps, steps_per_quarter, steps_per_bar)
    if highlight_segments:
        _segment_marks(axes, int(round(highlight_segments * steps_per_bar)), notes.num_steps)
    _lane_and_bar_labels(axes, axes if timing is None else timing, num_bars, steps_per_bar)
    if timing is not None:
        _timing_lane(timing, notes)
    if title:
        axes.set_title(title, fontsize=10)

    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png_path, dpi=_DPI)
    return png_path


def _velocity_boxes(axes, notes: DrawnNotes):
    """One box per note in its drum lane, darker when louder; the lanes span the roll. Returns the boxes."""
    from matplotlib import colormaps, colors
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    # Darker is louder; the lightest blue is kept well off white so soft hits stay visible.
    colormap = colors.ListedColormap(colormaps["Blues"](np.linspace(0.3, 1.0, 256)))
    boxes = PatchCollection(
        [
            Rectangle((onset - 0.5, lane - 0.4), 0.85, 0.8)
            for onset, lane in zip(notes.onsets, notes.classes, strict=True)
        ],
        cmap=colormap,
        norm=colors.Normalize(vmin=0, vmax=127),
        linewidth=0,
        zorder=1,
    )
    boxes.set_array(notes.velocities)
    # Kick at the bottom, cymbals on top, as drummers read a kit.
    axes.add_collection(boxes)
    axes.set_xlim(-0.5, notes.num_steps - 0.5)
    axes.set_ylim(-0.5, len(DRUM_CLASS_NAMES) - 0.5)
    return boxes


def _beat_lines(lanes, num_steps: int, steps_per_quarter: int, steps_per_bar: int) -> None:
    """A light line on every beat and a dark one on every bar line, in each lane."""
    for step in range(0, num_steps + 1, steps_per_quarter):
        is_bar_line = step % steps_per_bar == 0
        for lane in lanes:
            lane.axvline(
                step - 0.5,
                color="0.35" if is_bar_line else "0.85",
                linewidth=0.8 if is_bar_line else 0.4,
                zorder=2,
            )


def _segment_marks(axes, segment_steps: int, num_steps: int) -> None:
    """Heavy separators every `segment_steps`, the segments numbered along the top."""
    segment_starts = np.arange(0, num_steps, segment_steps)
    for step in [*segment_starts, num_steps]:
        axes.axvline(step - 0.5, color="crimson", linewidth=2.0, zorder=3)
    segment_centres = (segment_starts + np.minimum(segment_starts + segment_steps, num_steps)) / 2 - 0.5
    segment_axis = axes.secondary_xaxis("top")
    segment_axis.set_xticks(segment_centres, [str(n) for n in range(1, len(segment_starts) + 1)])
    segment_axis.tick_params(length=0, labelsize=8, labelcolor="crimson")


def _lane_and_bar_labels(axes, bottom, num_bars: float, steps_per_bar: int) -> None:
    """Drum names on the lanes; bar numbers under the `bottom` axes, few enough not to overlap."""
    axes.set_yticks(range(len(DRUM_CLASS_NAMES)), [name.replace("_", " ") for name in DRUM_CLASS_NAMES])
    whole_bars = int(np.ceil(num_bars))
    label_every = max(1, int(np.ceil(whole_bars / 32)))  # keep bar numbers from overlapping
    bar_starts = range(0, whole_bars, label_every)
    bottom.set_xticks([bar * steps_per_bar - 0.5 for bar in bar_starts], [str(bar + 1) for bar in bar_starts])
    bottom.set_xlabel("bar")


def _timing_lane(timing, notes: DrawnNotes) -> None:
    """Each note's distance from its grid step, drawn at that step (left edge = the grid line)."""
    grid_steps = np.round(notes.onsets) - 0.5
    timing.axhline(0, color="0.35", linewidth=0.6, zorder=2)
    timing.vlines(grid_steps, 0, notes.grid_ms, color="darkorange", linewidth=0.8, zorder=3)
    timing.scatter(grid_steps, notes.grid_ms, s=6, color="darkorange", zorder=4)
    limit = max(1.0, float(np.abs(notes.grid_ms).max())) * 1.15
    timing.set_ylim(-limit, limit)
    timing.set_ylabel("ms off\nthe grid", fontsize=8)
    timing.tick_params(axis="y", labelsize=7)


def check_audio_tools(soundfont=None, commands=("fluidsynth",)):
    """Raise AudioToolsMissing, naming the Debian packages to install, unless every command in
    `commands` is on PATH and `soundfont` (when given) exists."""
    problems, packages = [], []
    for command in commands:
        if shutil.which(command) is None:
            problems.append(f"the `{command}` command is not on PATH")
            packages.append(PACKAGES.get(command, command))
    if soundfont is not None and not Path(soundfont).is_file():
        problems.append(f"the soundfont {soundfont} does not exist")
        packages.append(PACKAGES["soundfont"])
    if problems:
        raise AudioToolsMissing(
            f"cannot render audio: {'; '.join(problems)}. To fix, install it with "
            f"`apt-get install {' '.join(packages)}` (as root, or `make system-packages`), {DISABLE_HINT}."
        )


def _run_fluidsynth(midi_path, wav_path, soundfont, sample_rate, output_name=None):
    """Renders `midi_path` into `wav_path`; a failure to write it names `output_name` (default: `wav_path`)."""
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
    # fluidsynth exits 0 for some failures (an unreadable MIDI file; a full disk, leaving a truncated
    # file), so check the output and what it said too.
    failed = result.returncode != 0 or not Path(wav_path).is_file() or Path(wav_path).stat().st_size <= 44
    if failed or "write error" in result.stderr.lower():
        cause = _unwritable(wav_path)
        if cause is not None:
            raise _write_error(cause, output_name or wav_path)
        raise AudioRenderError(
            f"fluidsynth failed to render {midi_path} to {wav_path} (exit code {result.returncode}).\n"
            f"command: {' '.join(command)}\nstderr:\n{result.stderr.strip()}\n"
            f"stdout:\n{result.stdout.strip()}"
        )


def render_audio(midi_path, wav_path, soundfont, sample_rate=44100, output_name=None):
    """Render a MIDI file to a 16-bit WAV with the fluidsynth command line, ring-out included;
    returns the WAV path. A failure to write it names `output_name` (default: `wav_path`): the
    output an intermediate render is for."""
    check_audio_tools(soundfont)
    midi_path, wav_path = Path(midi_path), Path(wav_path)
    if not midi_path.is_file():
        raise FileNotFoundError(f"MIDI file {midi_path} does not exist")
    with _write_errors_named(output_name or wav_path):
        wav_path.unlink(missing_ok=True)  # a stale file must not pass for a fresh render
        with written_atomically(wav_path, ".partial.wav") as partial:
            _run_fluidsynth(midi_path, partial, soundfont, sample_rate, output_name or wav_path)
    return wav_path


def looped(audio: np.ndarray, loop_samples: int, mode: str = "fold", fade_samples: int = 0) -> np.ndarray:
    """`audio` ([samples, channels]) made exactly `loop_samples` long so that it loops seamlessly.

    "fold": what rings on past the loop end is mixed onto the loop's start, where it would sound
    when the loop repeats. "fade": the ring-out is cut, with a `fade_samples` linear fade-out so
    the cut does not click. Shorter audio is padded with silence.
    """
    if mode not in LOOP_MODES:
        raise ValueError(f"audio.loop must be one of {LOOP_MODES}, got {mode!r}")
    if loop_samples <= 0:
        raise ValueError(f"a loop needs a positive length, got {loop_samples} samples")
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 1:
        audio = audio[:, None]
    loop = np.zeros((loop_samples, audio.shape[1]))
    head = audio[:loop_samples]
    loop[: len(head)] = head
    if mode == "fold":
        for start in range(loop_samples, len(audio), loop_samples):  # a tail longer than the loop wraps again
            tail = audio[start : start + loop_samples]
            loop[: len(tail)] += tail
    elif fade_samples > 0:
        fade = min(fade_samples, loop_samples)
        loop[-fade:] *= np.linspace(1.0, 0.0, fade)[:, None]
    peak = np.abs(loop).max()
    if peak > 1.0:  # folding adds the tail onto the start: keep the sum from clipping
        loop *= 0.999 / peak
    return loop


def render_loop(midi_path, wav_path, soundfont, sample_rate=44100, loop="fold", fade_ms=10.0, with_tail_path=None):
    """Render `midi_path` to a WAV exactly as long as the MIDI file (to its end-of-track), ring-out
    handled as `loop` says (see `looped`); with `with_tail_path`, the untouched render too.
    Returns {"samples": loop length, "tail_samples": ring-out past the loop end}."""
    import soundfile

    wav_path = Path(wav_path)
    # Killed jobs of earlier versions left their raw renders in randomly named folders; none is made now.
    for stale in wav_path.parent.glob(".render-*"):
        shutil.rmtree(stale, ignore_errors=True)
    # The raw render lives in a folder named after the loop, so one a killed job left is removed here.
    with _write_errors_named(wav_path), scratch_folder(wav_path) as scratch:
        raw_path = render_audio(midi_path, scratch / "raw.wav", soundfont, sample_rate, output_name=wav_path)
        audio, rate = soundfile.read(raw_path, always_2d=True)
        loop_samples = int(round(midi_length_seconds(midi_path) * rate))
        result = looped(audio, loop_samples, loop, int(round(fade_ms / 1000 * rate)))
        _write_wav(wav_path, result, rate)
        if with_tail_path is not None:
            padded = np.zeros((max(len(audio), loop_samples), audio.shape[1]))
            padded[: len(audio)] = audio
            _write_wav(with_tail_path, padded, rate)
    return {"samples": loop_samples, "tail_samples": max(0, len(audio) - loop_samples)}


def _write_wav(path, audio, sample_rate):
    import soundfile

    with _write_errors_named(path), written_atomically(path, ".partial.wav") as partial:
        try:
            soundfile.write(partial, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")
        except soundfile.LibsndfileError as error:  # "System error." for a full disk: find the cause
            cause = _unwritable(partial)
            if cause is None:
                raise
            raise _write_error(cause, path) from error


def drum_class_midi(midi_path, drum_class: int, out_path):
    """A copy of `midi_path` keeping only the notes of one of Magenta's 9 drum classes (same length,
    tempo and metre). Returns the path."""
    import mido

    from beatvae.metrics import PITCH_TO_DRUM_CLASS

    source = mido.MidiFile(midi_path)
    result = mido.MidiFile(type=source.type, ticks_per_beat=source.ticks_per_beat)
    for track in source.tracks:
        kept, carried = mido.MidiTrack(), 0
        for message in track:
            is_note = message.type in ("note_on", "note_off")
            if is_note and PITCH_TO_DRUM_CLASS.get(message.note) != drum_class:
                carried += message.time  # drop the note but keep the timing of what follows
                continue
            kept.append(message.copy(time=message.time + carried))
            carried = 0
        result.tracks.append(kept)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    result.save(out_path)
    return Path(out_path)


def render_stems(midi_path, stem_paths, soundfont, sample_rate=44100, loop="fold", fade_ms=10.0):
    """One loop WAV per drum class (`stem_paths`, in Magenta's class order: kick first), each as
    long as the MIDI file; silent where the beat does not use that class."""
    import mido

    if len(stem_paths) != len(DRUM_CLASS_NAMES):
        raise ValueError(
            f"expected {len(DRUM_CLASS_NAMES)} stem paths ({', '.join(DRUM_CLASS_NAMES)}), got {len(stem_paths)}"
        )
    # Beside the stems' folder (inside the rule's output folder), so a killed job leaves nothing elsewhere.
    stems_folder = Path(stem_paths[0]).parent
    with _write_errors_named(stems_folder), scratch_folder(stems_folder) as scratch:
        for drum_class, stem_path in enumerate(stem_paths):
            stem_midi = drum_class_midi(midi_path, drum_class, scratch / f"{drum_class}.mid")
            if any(message.type == "note_on" for message in mido.MidiFile(stem_midi)):
                render_loop(stem_midi, stem_path, soundfont, sample_rate, loop, fade_ms)
            else:  # fluidsynth renders nothing at all for a file without notes
                silence = np.zeros((int(round(midi_length_seconds(midi_path) * sample_rate)), 2))
                _write_wav(stem_path, silence, sample_rate)
    return [Path(path) for path in stem_paths]


def ogg_serial(ogg_path) -> int:
    """The Ogg stream serial number of `ogg_path`, from its file name: oggenc draws a random one, which
    made every encode (and the report page embedding it) differ in bytes."""
    return zlib.crc32(Path(ogg_path).name.encode("utf-8")) & 0x7FFFFFFF


def encode_ogg(wav_path, ogg_path, quality=3):
    """An OGG Vorbis copy of a WAV (oggenc's -q quality, -1 to 10), for the report page; the same
    WAV and name give the same bytes."""
    check_audio_tools(commands=("oggenc",))
    ogg_path = Path(ogg_path)
    with _write_errors_named(ogg_path), written_atomically(ogg_path, ".partial.ogg") as partial:
        command = [
            "oggenc", "--quiet", "-q", str(quality), "--serial", str(ogg_serial(ogg_path)),
            "-o", str(partial), str(wav_path),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            cause = _unwritable(partial)
            if cause is not None:
                raise _write_error(cause, ogg_path)
            raise AudioRenderError(
                f"oggenc failed to encode {wav_path} to {ogg_path} (exit code {result.returncode}).\n"
                f"command: {' '.join(command)}\nstderr:\n{result.stderr.strip()}"
            )
    return ogg_path


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
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(2 ** (8 * sample_width - 1))
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
