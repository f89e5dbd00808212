"""Unpack a zip archive without letting any entry land outside the target folder."""

from __future__ import annotations

import os
import shutil
import zipfile
import zlib
from pathlib import Path, PurePosixPath


class UnsafeArchive(ValueError):
    pass


class CorruptArchive(ValueError):
    pass


# The whole MIDI-only GMD unpacks to 5.2 MiB (1,150 performances; its zip is 3.2 MB): 1 GiB leaves
# a margin of 200x for a larger MIDI corpus while refusing a zip bomb before it fills the disk.
MAX_UNPACKED_BYTES = 1 << 30
# GMD's members compress at most 10:1 (info.csv; MIDI files less); deflate reaches about 1,000:1 on
# repeated bytes, which is what a bomb is made of. Members under RATIO_FLOOR_BYTES are too small
# for their ratio to matter.
MAX_COMPRESSION_RATIO = 200
RATIO_FLOOR_BYTES = 1 << 20
CHUNK_BYTES = 1 << 20


def check_sizes(
    archive: Path,
    members: list[zipfile.ZipInfo],
    max_total_bytes: int = MAX_UNPACKED_BYTES,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> None:
    """Raises UnsafeArchive, naming the archive and member, when the members' declared sizes add up
    to more than `max_total_bytes` or one declares an absurd compression ratio (a zip bomb)."""
    total = 0
    for member in members:
        total += member.file_size
        if total > max_total_bytes:
            raise UnsafeArchive(
                f"{archive}: refusing to unpack more than {max_total_bytes / 2**20:.0f} MiB: the members up "
                f"to {member.filename!r} (which declares {member.file_size / 2**20:.1f} MiB) add up to "
                f"{total / 2**20:.1f} MiB; the whole MIDI-only GMD unpacks to about 5 MiB"
            )
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR_BYTES and ratio > max_ratio:
            raise UnsafeArchive(
                f"{archive}: refusing member {member.filename!r}: {member.compress_size} compressed bytes "
                f"declare {member.file_size / 2**20:.1f} MiB ({ratio:.0f}:1, more than {max_ratio}:1), "
                "a zip bomb rather than MIDI files"
            )


def _copy_at_most(source, out, limit: int, archive: Path, member: zipfile.ZipInfo) -> int:
    """Copies `source` to `out`, refusing (UnsafeArchive) a member that yields more than `limit`
    bytes: its declared size, which check_sizes counted. Returns the bytes copied."""
    copied = 0
    while chunk := source.read(min(CHUNK_BYTES, limit - copied + 1)):
        copied += len(chunk)
        if copied > limit:
            raise UnsafeArchive(
                f"{archive}: member {member.filename!r} unpacks to more than the {member.file_size} bytes "
                "it declares; refusing it"
            )
        out.write(chunk)
    return copied


def _checked_member_path(name: str) -> PurePosixPath:
    # Zip entries use "/" whatever the platform; a backslash is treated as a separator too
    # because Windows-made archives sometimes carry them.
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise UnsafeArchive(f"refusing absolute path in archive: {name!r}")
    if ".." in path.parts:
        raise UnsafeArchive(f"refusing path that escapes the target folder: {name!r}")
    return path


def safe_unzip(
    archive: str | os.PathLike,
    target: str | os.PathLike,
    max_total_bytes: int = MAX_UNPACKED_BYTES,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> list[str]:
    """Extracts `archive` into `target` (created; replaced if present) and returns the member paths.

    Paths and declared sizes (check_sizes) are checked before anything is written, no member may
    unpack to more than it declares, and extraction (which verifies every
    member's CRC) goes through a sibling temporary folder, so a refused or corrupt archive
    leaves no partial `target` behind.
    """
    archive, target = Path(archive), Path(target)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            paths = [_checked_member_path(m.filename) for m in members]
            for member in members:
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    raise UnsafeArchive(f"refusing symbolic link in archive: {member.filename!r}")
            check_sizes(archive, members, max_total_bytes, max_ratio)
            staging = target.with_name(f".{target.name}.unpacking")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            try:
                for member, path in zip(members, paths, strict=True):
                    destination = staging.joinpath(*path.parts)
                    if member.is_dir():
                        destination.mkdir(parents=True, exist_ok=True)
                        continue
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        with zipped.open(member) as source, open(destination, "wb") as out:
                            # zipfile checks each member's CRC
                            _copy_at_most(source, out, member.file_size, archive, member)
                    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
                        raise CorruptArchive(f"{archive}: member {member.filename!r} is damaged ({error})") from error
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise CorruptArchive(f"{archive} is not a readable zip archive ({error})") from error
    return [str(path) for member, path in zip(members, paths, strict=True) if not member.is_dir()]
