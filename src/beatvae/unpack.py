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


def _checked_member_path(name: str) -> PurePosixPath:
    # Zip entries use "/" whatever the platform; a backslash is treated as a separator too
    # because Windows-made archives sometimes carry them.
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise UnsafeArchive(f"refusing absolute path in archive: {name!r}")
    if ".." in path.parts:
        raise UnsafeArchive(f"refusing path that escapes the target folder: {name!r}")
    return path


def safe_unzip(archive: str | os.PathLike, target: str | os.PathLike) -> list[str]:
    """Extracts `archive` into `target` (created; replaced if present) and returns the member paths.

    Paths are checked before anything is written, and extraction (which verifies every
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
                            shutil.copyfileobj(source, out)  # zipfile checks each member's CRC
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
