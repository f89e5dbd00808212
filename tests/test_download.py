"""download_verified / resolve_url / sha256_of against a real HTTP server on 127.0.0.1."""

import functools
import hashlib
import http.client
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from beatvae.download import ChecksumMismatch, TruncatedDownload, download_verified, resolve_url, sha256_of

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data/gmd-sample/groove-v1.0.0-midionly-sample.zip"
SAMPLE_SHA256 = yaml.safe_load((REPO / "tests/config/smoke.yaml").read_text())["gmd"]["sha256"]


def independent_sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder):
    """Everything in `folder`, hidden files (the .part temporaries) included."""
    return sorted(os.listdir(folder)) if Path(folder).exists() else []


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class TruncatingHandler(QuietHandler):
    """Announces the full Content-Length but sends only half of the body, then hangs up."""

    def do_GET(self):
        body = Path(self.directory, self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


def _serve(folder, handler_class):
    handler = functools.partial(handler_class, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def served(tmp_path):
    """(folder served over HTTP, base URL). No proxy may intercept 127.0.0.1."""
    folder = tmp_path / "served"
    folder.mkdir()
    server, thread, base = _serve(folder, QuietHandler)
    yield folder, base
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_sample_digest_matches_config():
    assert sha256_of(SAMPLE) == independent_sha256(SAMPLE) == SAMPLE_SHA256


def test_sha256_of_known_vector(tmp_path):
    empty, abc = tmp_path / "empty", tmp_path / "abc"
    empty.write_bytes(b"")
    abc.write_bytes(b"abc")
    assert sha256_of(empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256_of(abc) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_of_streams_files_larger_than_one_chunk(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(os.urandom(3 * (1 << 20) + 17))
    assert sha256_of(big) == independent_sha256(big)


def test_http_download_of_real_sample_verifies(served, tmp_path):
    folder, base = served
    shutil.copy(SAMPLE, folder / "gmd.zip")
    destination = tmp_path / "out" / "nested" / "gmd.zip"
    digest = download_verified(f"{base}/gmd.zip", SAMPLE_SHA256, destination)
    assert digest == SAMPLE_SHA256
    assert destination.read_bytes() == SAMPLE.read_bytes()
    assert leftovers(destination.parent) == ["gmd.zip"]


def test_expected_digest_is_case_insensitive(served, tmp_path):
    folder, base = served
    shutil.copy(SAMPLE, folder / "gmd.zip")
    destination = tmp_path / "out" / "gmd.zip"
    assert download_verified(f"{base}/gmd.zip", SAMPLE_SHA256.upper(), destination) == SAMPLE_SHA256
    assert destination.is_file()


def test_corrupted_download_is_rejected_and_leaves_nothing(served, tmp_path):
    folder, base = served
    corrupted = bytearray(SAMPLE.read_bytes())
    for offset in (0, len(corrupted) // 2, len(corrupted) - 1):
        corrupted[offset] ^= 0xFF
    (folder / "gmd.zip").write_bytes(bytes(corrupted))
    actual = hashlib.sha256(bytes(corrupted)).hexdigest()
    assert actual != SAMPLE_SHA256

    destination = tmp_path / "out" / "gmd.zip"
    with pytest.raises(ChecksumMismatch) as caught:
        download_verified(f"{base}/gmd.zip", SAMPLE_SHA256, destination)
    message = str(caught.value)
    assert SAMPLE_SHA256 in message
    assert actual in message
    assert not destination.exists()
    assert leftovers(destination.parent) == []


def test_truncated_http_body_is_called_truncated_not_a_checksum_mismatch(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "gmd.zip")
    server, thread, base = _serve(folder, TruncatingHandler)
    try:
        destination = tmp_path / "out" / "gmd.zip"
        with pytest.raises(TruncatedDownload) as caught:
            download_verified(f"{base}/gmd.zip", SAMPLE_SHA256, destination)
        size = SAMPLE.stat().st_size
        assert f"stopped after {size // 2} of the {size} bytes" in str(caught.value), caught.value
        assert "checksum" not in str(caught.value)
        assert not destination.exists()
        assert leftovers(destination.parent) == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_partial_copy_of_the_archive_is_called_truncated(tmp_path):
    """A file:// URL (no announced length) to half of the GMD zip: its end is missing."""
    partial = tmp_path / "half.zip"
    partial.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2])
    destination = tmp_path / "out" / "gmd.zip"
    with pytest.raises(TruncatedDownload, match=r"not a complete zip archive") as caught:
        download_verified(partial.as_uri(), SAMPLE_SHA256, destination)
    assert str(partial.stat().st_size) in str(caught.value)
    assert leftovers(destination.parent) == []
    # Not a zip at all (an error page served as the file): a different file, so the checksum speaks.
    partial.write_bytes(b"<html>503 Service Unavailable</html>")
    with pytest.raises(ChecksumMismatch):
        download_verified(partial.as_uri(), SAMPLE_SHA256, destination)


def test_http_404_fails_and_leaves_nothing(served, tmp_path):
    _, base = served
    destination = tmp_path / "out" / "gmd.zip"
    with pytest.raises(urllib.error.HTTPError) as caught:
        download_verified(f"{base}/no-such-file.zip", SAMPLE_SHA256, destination)
    assert caught.value.code == 404
    assert not destination.exists()
    assert leftovers(destination.parent) == []


def test_failed_download_keeps_existing_unrelated_files(served, tmp_path):
    _, base = served
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(urllib.error.HTTPError):
        download_verified(f"{base}/missing.zip", SAMPLE_SHA256, out / "gmd.zip")
    assert leftovers(out) == ["keep.txt"]


def test_resolve_url_leaves_real_urls_alone(tmp_path):
    for url in (
        "http://example.org/a.zip",
        "https://storage.googleapis.com/magentadata/datasets/groove/groove-v1.0.0-midionly.zip",
        "ftp://example.org/a.zip",
        "file:///somewhere/a.zip",
    ):
        assert resolve_url(url, tmp_path) == url


def test_resolve_url_turns_relative_paths_into_file_urls(tmp_path):
    (tmp_path / "data").mkdir()
    assert resolve_url("data/a.zip", tmp_path) == (tmp_path / "data" / "a.zip").resolve().as_uri()
    assert resolve_url("./data/../data/a.zip", tmp_path) == (tmp_path / "data" / "a.zip").resolve().as_uri()
    assert resolve_url(str(tmp_path / "abs.zip"), "/elsewhere") == (tmp_path / "abs.zip").resolve().as_uri()
    assert resolve_url("data/a.zip", tmp_path).startswith("file:///")


def test_relative_path_to_the_real_sample_downloads(tmp_path):
    url = resolve_url("data/gmd-sample/groove-v1.0.0-midionly-sample.zip", REPO)
    assert url == SAMPLE.as_uri()
    destination = tmp_path / "gmd.zip"
    assert download_verified(url, SAMPLE_SHA256, destination) == SAMPLE_SHA256
    assert destination.read_bytes() == SAMPLE.read_bytes()


def test_file_url_with_wrong_digest_fails_and_leaves_nothing(tmp_path):
    wrong = "0" * 64
    destination = tmp_path / "out" / "gmd.zip"
    with pytest.raises(ChecksumMismatch) as caught:
        download_verified(SAMPLE.as_uri(), wrong, destination)
    assert wrong in str(caught.value) and SAMPLE_SHA256 in str(caught.value)
    assert leftovers(destination.parent) == []


def test_missing_local_file_fails_and_leaves_nothing(tmp_path):
    destination = tmp_path / "out" / "gmd.zip"
    with pytest.raises(urllib.error.URLError):
        download_verified(resolve_url("no/such.zip", tmp_path), SAMPLE_SHA256, destination)
    assert leftovers(destination.parent) == []


def test_server_is_really_local(served):
    folder, base = served
    (folder / "hello.txt").write_text("hi")
    assert base.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{base}/hello.txt", timeout=5) as response:
        assert response.read() == b"hi"


# ---------------------------------------------------------------- permissions and leftovers


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_download_gets_the_usual_permissions(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        download_verified(SAMPLE.as_uri(), SAMPLE_SHA256, tmp_path / "gmd.zip")
    finally:
        os.umask(previous)
    assert (tmp_path / "gmd.zip").stat().st_mode & 0o777 == mode


def test_the_next_download_removes_partial_files_of_killed_ones(tmp_path):
    for stale in (".gmd.zip.part", ".gmd.zip.k3j9x2.part"):  # this version's name and the older random one
        (tmp_path / stale).write_bytes(b"half a zip")
    (tmp_path / ".other.zip.part").write_bytes(b"not ours")
    download_verified(SAMPLE.as_uri(), SAMPLE_SHA256, tmp_path / "gmd.zip")
    assert leftovers(tmp_path) == [".other.zip.part", "gmd.zip"]


class StallingHandler(QuietHandler):
    """Sends the headers and a first slice of the body, then stalls until the test ends."""

    release = threading.Event()

    def do_GET(self):
        body = Path(self.directory, self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:1000])
        self.wfile.flush()
        self.release.wait(120)
        self.close_connection = True


@pytest.mark.snakemake
def test_sigterm_during_the_download_job_leaves_no_partial_file(tmp_path):
    """The real download_gmd job, stopped with SIGTERM (as Snakemake, scancel or a user stop it)."""
    import psutil

    folder = tmp_path / "served"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "gmd.zip")
    StallingHandler.release.clear()
    server, thread, base = _serve(folder, StallingHandler)
    config = yaml.safe_load((REPO / "tests/config/smoke.yaml").read_text())
    config["gmd"]["url"] = f"{base}/gmd.zip"
    config["audio"] = {"enabled": False}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    workdir = tmp_path / "work"
    downloads = workdir / "results/download"
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [str(snakemake), "results/download/gmd.zip", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--cores", "1", "--workflow-profile", "none", "--configfile", str(tmp_path / "config.yaml")]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "SNAKEMAKE_PROFILE"}
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        job = None
        while job is None:
            assert run.poll() is None, run.stdout.read()
            assert time.monotonic() < deadline, "the download job never started streaming"
            if leftovers(downloads):  # streaming has begun
                job = next(
                    (
                        p
                        for p in psutil.Process(run.pid).children(recursive=True)
                        if "download_gmd" in " ".join(p.cmdline())
                    ),
                    None,
                )
            time.sleep(0.1)
        job.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=120)
        assert run.returncode != 0, output
        assert leftovers(downloads) == [], output
        log = (workdir / "results/logs/download_gmd.log").read_text()
        assert "Terminated" in log, log
    finally:
        StallingHandler.release.set()
        run.kill()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
