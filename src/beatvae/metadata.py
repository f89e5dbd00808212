"""One typed row per GMD MIDI file: what its path says, what info.csv says, what the MIDI says."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import multiprocessing
import os
import re
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from beatvae.midi import sequence_qpm
from beatvae.settings import SPLITS

log = logging.getLogger(__name__)

# e.g. drummer1/session1/151_latin-brazilian-baiao_95_fill_4-4.mid; sessions may be "eval_session".
FILENAME_PATTERN = re.compile(
    r"^(?P<drummer>drummer\d+)/(?P<session>[A-Za-z_]*session\d*)/"
    r"(?P<number>\d+)_(?P<style>[a-z]+)(?:-(?P<substyle>[a-z0-9-]+))?_(?P<bpm>\d+)_"
    r"(?P<beat_type>beat|fill)_(?P<time_signature>\d+-\d+)\.(?i:midi?)$"
)
MIDI_SUFFIXES = (".mid", ".midi")  # in any letter case: `.MID` is as much a MIDI file

# The info.csv columns build_metadata reads; the rest of what it knows comes from the path and the MIDI.
INFO_COLUMNS = ("midi_filename", "split", "duration")

COLUMNS = {
    "path": "string",
    "id": "string",
    "drummer": "string",
    "session": "string",
    "style": "string",
    "substyle": "string",
    "bpm": "int32",
    "beat_type": "string",
    "time_signature": "string",
    "split": "string",
    "duration": "float64",
    "notes": "int32",
    "bars": "float64",
}
REJECT_COLUMNS = {"path": "string", "reason": "string"}


class MetadataError(ValueError):
    pass


@dataclass(frozen=True)
class ParsedName:
    drummer: str
    session: str
    id: str
    style: str
    substyle: str | None
    bpm: int
    beat_type: str
    time_signature: str


def parse_midi_path(relative_path: str) -> ParsedName:
    """Parses `drummerN/sessionM/ID_style[-substyle]_BPM_beat|fill_N-D.mid`; raises MetadataError."""
    match = FILENAME_PATTERN.match(relative_path.replace(os.sep, "/"))
    if match is None:
        raise MetadataError("file name does not follow GMD's ID_style_bpm_beat|fill_TS.mid pattern")
    fields = match.groupdict()
    return ParsedName(
        drummer=fields["drummer"],
        session=f"{fields['drummer']}/{fields['session']}",
        id=f"{fields['drummer']}/{fields['session']}/{fields['number']}",
        style=fields["style"],
        substyle=fields["substyle"],
        bpm=int(fields["bpm"]),
        beat_type=fields["beat_type"],
        time_signature=fields["time_signature"],
    )


def length_in_bars(sequence) -> float:
    """Length of a NoteSequence in bars, at its first tempo and time signature (4/4 if none)."""
    qpm = sequence_qpm(sequence)
    if sequence.time_signatures:
        signature = sequence.time_signatures[0]
        quarters_per_bar = signature.numerator * 4.0 / signature.denominator
    else:
        quarters_per_bar = 4.0
    return sequence.total_time * qpm / 60.0 / quarters_per_bar


def read_performance(gmd_root: str | os.PathLike, relative_path: str) -> tuple[bytes, int, float] | str:
    """Parses one MIDI file: (serialized NoteSequence, notes, bars), or why it is unreadable.

    Runs in worker processes, so a parser failure comes back as text instead of an exception.
    """
    from beatvae.dataset import midi_to_note_sequence

    try:
        sequence = midi_to_note_sequence(gmd_root, relative_path)
    except Exception as error:  # any parser failure means an unreadable file
        return f"unreadable MIDI: {type(error).__name__}: {error}"
    return sequence.SerializeToString(), len(sequence.notes), length_in_bars(sequence)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: the worker is killed when the process that started it dies, even by SIGKILL.

    Linux only (prctl PR_SET_PDEATHSIG); elsewhere the parent's SIGTERM handler is the only guard.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)


@contextlib.contextmanager
def stop_workers_on_exit(pool: ProcessPoolExecutor):
    """On any failure (Terminated by SIGTERM included, see logs.exit_on_sigterm) the workers are killed:
    leaving the `with ProcessPoolExecutor` block would wait for every queued file first."""
    try:
        yield
    except BaseException as error:
        children = multiprocessing.active_children()
        log.error("%s: stopping %d parsing process(es)", type(error).__name__, len(children))
        pool.shutdown(wait=False, cancel_futures=True)
        for child in children:
            child.kill()
        for child in children:
            child.join(timeout=10)
        raise


def read_performances(gmd_root: Path, relative_paths: list[str], workers: int, min_files_per_worker: int) -> list:
    """read_performance for every path, in order, over up to `workers` processes.

    A spawned worker costs about as much as parsing 40 files (importing note_seq), so each one
    gets at least `min_files_per_worker` files: the 138-file sample is parsed in-process.
    The workers die with the job: killed when it fails or is stopped by SIGTERM (with
    logs.exit_on_sigterm), and (Linux) sent SIGKILL by the kernel when it dies any other way.
    """
    workers = min(workers, len(relative_paths) // max(1, min_files_per_worker))
    log.info("parsing %d MIDI files in %d process(es)", len(relative_paths), max(1, workers))
    if workers <= 1:
        return [read_performance(gmd_root, path) for path in relative_paths]
    # spawn, not fork: the caller may already hold TensorFlow's threads
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
    )
    with pool, stop_workers_on_exit(pool):
        chunk = max(1, len(relative_paths) // (8 * workers))
        return list(pool.map(read_performance, [gmd_root] * len(relative_paths), relative_paths, chunksize=chunk))


def listing_key(relative_path: str) -> str:
    """How info.csv and the archive are matched: the path, with the extension's letter case ignored."""
    stem, suffix = os.path.splitext(relative_path.replace(os.sep, "/"))
    return stem + suffix.lower()


def read_info(info_path: Path) -> pd.DataFrame:
    """info.csv as text, indexed by listing_key, with each row's `line` in the file.

    Raises MetadataError naming the file and the column or lines for problems that make the
    whole table untrustworthy (a missing column, a file listed twice); a bad value in one row
    is left for check_listing, which rejects only that file.
    """
    try:
        info = pd.read_csv(info_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise MetadataError(f"{info_path} is not a readable CSV table: {error}") from error
    missing = [column for column in INFO_COLUMNS if column not in info.columns]
    if missing:
        raise MetadataError(
            f"{info_path} lacks the column(s) {', '.join(map(repr, missing))} "
            f"(it has {', '.join(map(repr, info.columns))}; GMD's info.csv has {', '.join(INFO_COLUMNS)})"
        )
    info["line"] = info.index + 2  # line 1 holds the column names
    info["key"] = info["midi_filename"].map(listing_key)
    repeated = info[info["key"].duplicated(keep=False)]
    if not repeated.empty:
        groups = [
            f"{name} (lines {', '.join(map(str, rows['line']))})" for name, rows in repeated.groupby("key", sort=False)
        ]
        raise MetadataError(f"{info_path} lists {len(groups)} midi_filename(s) more than once: {'; '.join(groups[:5])}")
    return info.set_index("key")


def check_listing(listed: pd.Series) -> tuple[str, float]:
    """(split, duration) of one info.csv row.

    MetadataError, naming the line and column, for a value that cannot be used.
    """
    where = f"info.csv line {listed['line']}"
    split = listed["split"]
    if split not in SPLITS:
        raise MetadataError(
            f"{where}: split {split!r} is not one of {', '.join(SPLITS)}, so the file would be in no split"
        )
    try:
        duration = float(listed["duration"])
    except ValueError:
        duration = math.nan
    if not math.isfinite(duration) or duration <= 0:
        raise MetadataError(f"{where}: duration {listed['duration']!r} is not a positive number of seconds")
    return split, duration


def build_metadata(
    gmd_root: str | os.PathLike,
    workers: int = 1,
    note_sequences_path: str | os.PathLike | None = None,
    min_files_per_worker: int = 100,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (metadata, rejects) for an unpacked GMD tree (the folder holding info.csv).

    A file that cannot be used is never dropped silently: it lands in `rejects` with the reason.
    Every MIDI file is parsed once, over `workers` processes; with `note_sequences_path` the
    NoteSequences of the accepted files are written there too, so no later step parses MIDI again.
    """
    gmd_root = Path(gmd_root)
    if note_sequences_path is not None:  # a killed run's partial file must not wait for this run to finish
        from beatvae.files import temporary_beside

        temporary_beside(note_sequences_path).unlink(missing_ok=True)
    info_path = gmd_root / "info.csv"
    if not info_path.is_file():
        raise MetadataError(f"{info_path} not found: is {gmd_root} an unpacked Groove MIDI Dataset?")
    info = read_info(info_path)
    on_disk = midi_files(gmd_root)
    named, rejects = listed_files(on_disk, info)
    rows, sequences, unreadable = parsed_files(gmd_root, named, workers, min_files_per_worker)
    rejects += unreadable + missing_files(info, on_disk)
    if note_sequences_path is not None:
        from beatvae.dataset import write_records

        write_records(sequences, note_sequences_path)
    metadata = pd.DataFrame(rows, columns=list(COLUMNS)).astype(COLUMNS)
    rejected = (
        pd.DataFrame(rejects, columns=list(REJECT_COLUMNS))
        .astype(REJECT_COLUMNS)
        .sort_values("path", ignore_index=True)
    )
    return metadata, rejected


def midi_files(gmd_root: Path) -> list[str]:
    """Every MIDI file under `gmd_root`, as sorted POSIX paths relative to it."""
    return sorted(
        p.relative_to(gmd_root).as_posix()
        for p in gmd_root.rglob("*")
        if p.suffix.lower() in MIDI_SUFFIXES and p.is_file()
    )


def listed_files(on_disk: list[str], info: pd.DataFrame) -> tuple[list[tuple], list[dict]]:
    """([(path, parsed name, split, duration)] of the files whose name and info.csv line are usable,
    [reject]) of the files `on_disk`."""
    named, rejects = [], []
    for relative in on_disk:
        try:
            parsed = parse_midi_path(relative)
            if listing_key(relative) not in info.index:
                raise MetadataError("not listed in info.csv (no split or duration)")
            split, duration = check_listing(info.loc[listing_key(relative)])
        except MetadataError as error:
            rejects.append({"path": relative, "reason": str(error)})
            continue
        named.append((relative, parsed, split, duration))
    return named, rejects


def parsed_files(gmd_root: Path, named: list[tuple], workers: int, min_files_per_worker: int) -> tuple:
    """(metadata rows, serialized NoteSequences, [reject]) of the `named` files (`listed_files`),
    each parsed once; a file that cannot be read or holds no notes is rejected."""
    rows, sequences, rejects = [], [], []
    performances = read_performances(gmd_root, [named_file[0] for named_file in named], workers, min_files_per_worker)
    for (relative, parsed, split, duration), performance in zip(named, performances, strict=True):
        if isinstance(performance, str):
            rejects.append({"path": relative, "reason": performance})
            continue
        sequence, notes, bars = performance
        if notes == 0:
            rejects.append({"path": relative, "reason": "the MIDI file holds no notes"})
            continue
        rows.append(
            {"path": relative, **parsed.__dict__, "split": split, "duration": duration, "notes": notes, "bars": bars}
        )
        sequences.append(sequence)
    return rows, sequences, rejects


def missing_files(info: pd.DataFrame, on_disk: list[str]) -> list[dict]:
    """A reject for each file info.csv lists that the archive lacks."""
    rejects = []
    for missing in sorted(set(info.index) - {listing_key(path) for path in on_disk}):
        listed = info.loc[missing]
        rejects.append(
            {
                "path": listed["midi_filename"],
                "reason": f"listed in info.csv (line {listed['line']}) but missing from the archive",
            }
        )
    return rejects


def find_gmd_root(unpacked: str | os.PathLike) -> Path:
    """The folder holding info.csv: the archive's top-level `groove/`, or `unpacked` itself."""
    for candidate in (Path(unpacked), Path(unpacked, "groove")):
        if (candidate / "info.csv").is_file():
            return candidate
    raise MetadataError(f"no info.csv in {unpacked} or {unpacked}/groove: not a Groove MIDI Dataset archive")
