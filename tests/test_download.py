"""download_verified / resolve_url / sha256_of against a real HTTP server on 127.0.0.1."""

import functools
import http.client
import hashlib
import http.server
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from beatvae.download import ChecksumMismatch, download_verified, resolve_url, sha256_of

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


def test_truncated_http_body_is_caught_by_the_checksum(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "gmd.zip")
    server, thread, base = _serve(folder, TruncatingHandler)
    try:
        destination = tmp_path / "out" / "gmd.zip"
        # urllib does not always notice a short body; the digest must.
        with pytest.raises((ChecksumMismatch, OSError, http.client.HTTPException)) as caught:
            download_verified(f"{base}/gmd.zip", SAMPLE_SHA256, destination)
        if isinstance(caught.value, ChecksumMismatch):
            assert SAMPLE_SHA256 in str(caught.value)
        assert not destination.exists()
        assert leftovers(destination.parent) == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


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
