"""Fetch a file from a URL and accept it only if its sha256 matches."""

from __future__ import annotations

import glob
import hashlib
import http.client
import os
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

CHUNK_BYTES = 1 << 20


class ChecksumMismatch(RuntimeError):
    pass


class TruncatedDownload(RuntimeError):
    """Fewer bytes arrived than the server announced, or the file ends before its zip archive does:
    a cut connection or a partial copy, not a different file, so trying again is the cure."""


def check_complete(url: str, received: int, announced: int | None, partial: Path, destination: Path) -> None:
    """Raises TruncatedDownload when the download is visibly incomplete: fewer than the announced
    (Content-Length) bytes, or, for a .zip, the start of a zip archive without its end (a partial
    file). Anything else (another file, an error page) is left to the checksum message."""
    if announced is not None and received < announced:
        raise TruncatedDownload(
            f"download of {url} stopped after {received} of the {announced} bytes the server announced "
            "(the connection was cut); nothing was kept, run again to retry"
        )
    with open(partial, "rb") as handle:
        starts_as_zip = handle.read(4) == b"PK\x03\x04"  # a zip's first local header
    if destination.suffix.lower() == ".zip" and starts_as_zip and not zipfile.is_zipfile(partial):
        raise TruncatedDownload(
            f"{url} is {received} bytes and not a complete zip archive (its end is missing: a partial "
            "download or copy?); nothing was kept. Fetch the whole file again, or check gmd.url"
        )


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_url(url: str, base_dir: str | os.PathLike) -> str:
    """Turns a bare path (relative to `base_dir`) into a file:// URL; leaves real URLs alone."""
    if urllib.parse.urlparse(url).scheme in ("http", "https", "ftp", "file"):
        return url
    return Path(base_dir, url).resolve().as_uri()


def partial_download(destination: str | os.PathLike) -> Path:
    """Where download_verified streams `destination` before its digest is checked (hidden, beside it)."""
    destination = Path(destination)
    return destination.with_name(f".{destination.name}.part")


def download_verified(url: str, sha256: str, destination: str | os.PathLike, timeout_s: float = 60) -> str:
    """Streams `url` into a temporary file beside `destination`, then renames it into place.

    The rename happens only after the digest matched, so an interrupted or corrupt download
    never leaves a file that Snakemake could mistake for a finished output. The temporary file
    is removed on any failure (SIGTERM too, under logs.exit_on_sigterm); one left by a SIGKILL
    is replaced by the next download. The file gets the usual permissions (0666 less the umask).
    Returns the digest.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # temporaries of earlier, killed runs (older versions named them .NAME.<random>.part)
    for stale in destination.parent.glob(f".{glob.escape(destination.name)}.*part"):
        stale.unlink(missing_ok=True)
    digest = hashlib.sha256()
    partial = partial_download(destination)
    try:
        received, announced = 0, None
        with open(partial, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response:
            length = response.headers.get("Content-Length")
            announced = int(length) if length and length.isdigit() else None
            try:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
            except http.client.IncompleteRead as error:
                received += len(error.partial)
        actual = digest.hexdigest()
        if actual != sha256.lower():
            check_complete(url, received, announced, partial, destination)
            raise ChecksumMismatch(f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {actual}")
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return actual
