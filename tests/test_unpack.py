"""safe_unzip on the real GMD sample and on hostile or damaged archives built here."""

import io
import os
import stat
import struct
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from beatvae.unpack import CorruptArchive, UnsafeArchive, safe_unzip

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data/gmd-sample/groove-v1.0.0-midionly-sample.zip"
MIDI = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"


def build_zip(path, entries, compression=zipfile.ZIP_DEFLATED):
    """entries: (name or ZipInfo, bytes). Written with the low-level API so names are kept verbatim."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, payload in entries:
            archive.writestr(name, payload)
    return path


def symlink_info(name):
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so the mode bits in external_attr mean something
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def assert_nothing_left(tmp_path, target, before):
    assert not target.exists()
    assert sorted(os.listdir(tmp_path)) == before, "staging folder or escaped file left behind"


def refusal(archive, error, tmp_path):
    """The message of the `error` that unpacking `archive` into tmp_path/gmd raises; the refused
    unpack must leave nothing behind."""
    before = sorted(os.listdir(tmp_path))
    target = tmp_path / "gmd"
    with pytest.raises(error) as caught:
        safe_unzip(archive, target)
    assert_nothing_left(tmp_path, target, before)
    return str(caught.value)


@pytest.fixture(scope="module")
def unpacked_sample(tmp_path_factory):
    target = tmp_path_factory.mktemp("sample") / "gmd"
    members = safe_unzip(SAMPLE, target)
    return target, members


def test_real_sample_unpacks(unpacked_sample):
    target, members = unpacked_sample
    info = target / "groove" / "info.csv"
    assert info.is_file()
    midis = sorted(p.relative_to(target / "groove").as_posix() for p in target.rglob("*.mid"))
    assert len(midis) == 138
    # Every MIDI file named in info.csv is there, and nothing else.
    listed = sorted(pd.read_csv(info)["midi_filename"])
    assert midis == listed
    with zipfile.ZipFile(SAMPLE) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        assert sorted(members) == sorted(names)
        for name in names:
            assert (target / name).read_bytes() == archive.read(name), name
    assert not any(p.name.endswith(".unpacking") for p in target.parent.iterdir())


def test_unpacking_again_replaces_the_target(tmp_path):
    target = tmp_path / "gmd"
    target.mkdir()
    (target / "stale.txt").write_text("old run")
    safe_unzip(SAMPLE, target)
    assert not (target / "stale.txt").exists()
    assert (target / "groove" / "info.csv").is_file()


@pytest.mark.parametrize(
    "evil_name",
    ["../evil", "groove/../../evil", "/abs/path", "..\\evil", "\\abs\\path", "C:/evil"],
)
def test_escaping_paths_are_refused(tmp_path, evil_name):
    archive = build_zip(tmp_path / "evil.zip", [("groove/info.csv", b"ok"), (evil_name, b"pwned")])
    before = sorted(os.listdir(tmp_path))
    target = tmp_path / "out" / "gmd"
    with pytest.raises(UnsafeArchive) as caught:
        safe_unzip(archive, target)
    assert evil_name in str(caught.value) or repr(evil_name) in str(caught.value)
    assert_nothing_left(tmp_path, target, before)
    assert not Path("/abs/path").exists()


def test_symlink_entry_is_refused(tmp_path):
    archive = build_zip(
        tmp_path / "link.zip",
        [("groove/info.csv", b"ok"), (symlink_info("groove/passwd"), b"/etc/passwd")],
    )
    before = sorted(os.listdir(tmp_path))
    target = tmp_path / "gmd"
    with pytest.raises(UnsafeArchive) as caught:
        safe_unzip(archive, target)
    assert "groove/passwd" in str(caught.value)
    assert_nothing_left(tmp_path, target, before)


def test_refused_archive_leaves_an_existing_target_untouched(tmp_path):
    target = tmp_path / "gmd"
    target.mkdir()
    (target / "previous.txt").write_text("keep")
    archive = build_zip(tmp_path / "evil.zip", [("ok.txt", b"ok"), ("../evil", b"x")])
    with pytest.raises(UnsafeArchive):
        safe_unzip(archive, target)
    assert sorted(os.listdir(target)) == ["previous.txt"]


def test_harmless_dotted_names_are_accepted(tmp_path):
    archive = build_zip(tmp_path / "ok.zip", [("groove/..hidden", b"a"), ("groove/a..b.mid", MIDI)])
    safe_unzip(archive, tmp_path / "gmd")
    assert (tmp_path / "gmd" / "groove" / "..hidden").read_bytes() == b"a"
    assert (tmp_path / "gmd" / "groove" / "a..b.mid").read_bytes() == MIDI


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty"])
def test_unreadable_archive_is_corrupt(tmp_path, kind):
    data = SAMPLE.read_bytes()
    payload = {"truncated": data[: len(data) // 2], "garbage": os.urandom(4096), "empty": b""}[kind]
    archive = tmp_path / "broken.zip"
    archive.write_bytes(payload)
    before = sorted(os.listdir(tmp_path))
    target = tmp_path / "gmd"
    with pytest.raises(CorruptArchive) as caught:
        safe_unzip(archive, target)
    message = str(caught.value)
    assert str(archive) in message
    assert "zip" in message.lower()
    assert_nothing_left(tmp_path, target, before)


def _central_directory_crc_offset(data: bytes, member: str) -> int:
    """Offset of the CRC-32 field of `member`'s central directory record."""
    name = member.encode()
    position = data.find(b"PK\x01\x02")
    while position != -1:
        (name_length,) = struct.unpack("<H", data[position + 28 : position + 30])
        if data[position + 46 : position + 46 + name_length] == name:
            return position + 16
        position = data.find(b"PK\x01\x02", position + 4)
    raise AssertionError(f"{member} not found in the central directory")


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_damaged_member_crc_is_corrupt(tmp_path, compression):
    good = tmp_path / "good.zip"
    build_zip(good, [("groove/info.csv", b"a,b\n1,2\n"), ("groove/x.mid", MIDI * 10)], compression)
    data = bytearray(good.read_bytes())
    offset = _central_directory_crc_offset(bytes(data), "groove/x.mid")
    data[offset] ^= 0xFF
    archive = tmp_path / "bad.zip"
    archive.write_bytes(bytes(data))
    message = refusal(archive, CorruptArchive, tmp_path)
    assert "groove/x.mid" in message
    assert "CRC" in message


def test_damaged_stored_data_is_corrupt(tmp_path):
    payload = MIDI * 10
    good = build_zip(tmp_path / "good.zip", [("groove/x.mid", payload)], zipfile.ZIP_STORED)
    data = bytearray(good.read_bytes())
    data[data.find(payload) + 20] ^= 0xFF
    archive = tmp_path / "bad.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptArchive, match="groove/x.mid"):
        safe_unzip(archive, tmp_path / "gmd")
    assert not (tmp_path / "gmd").exists()


def _first_midi_data_offset(data: bytes) -> tuple[str, int, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(".mid"))
    start = info.header_offset
    name_length, extra_length = struct.unpack("<HH", data[start + 26 : start + 30])
    return info.filename, start + 30 + name_length + extra_length, info.compress_size


def test_damaged_deflate_stream_in_real_sample_is_corrupt(tmp_path):
    data = bytearray(SAMPLE.read_bytes())
    name, start, _ = _first_midi_data_offset(bytes(data))
    data[start] ^= 0xFF  # the first deflate block header: zlib rejects the stream outright
    archive = tmp_path / "bad.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptArchive, match=name.split("/")[-1]):
        safe_unzip(archive, tmp_path / "gmd")
    assert not (tmp_path / "gmd").exists()


def test_damaged_deflate_data_in_real_sample_never_unpacks(tmp_path):
    """Whatever the damage, a bad member must stop the unpack with nothing written."""
    data = bytes(SAMPLE.read_bytes())
    _, start, size = _first_midi_data_offset(data)
    for offset in range(size // 3, size, max(1, size // 7)):
        damaged = bytearray(data)
        damaged[start + offset] ^= 0xFF
        archive = tmp_path / "bad.zip"
        archive.write_bytes(bytes(damaged))
        with pytest.raises(CorruptArchive):
            safe_unzip(archive, tmp_path / "gmd")
        assert not (tmp_path / "gmd").exists()
        assert sorted(os.listdir(tmp_path)) == ["bad.zip"]


def test_directory_entries_become_folders(tmp_path):
    archive = build_zip(tmp_path / "dirs.zip", [("groove/", b""), ("groove/empty/", b""), ("groove/x.mid", MIDI)])
    members = safe_unzip(archive, tmp_path / "gmd")
    assert (tmp_path / "gmd" / "groove" / "empty").is_dir()
    assert (tmp_path / "gmd" / "groove" / "x.mid").read_bytes() == MIDI
    assert "groove/x.mid" in members


def test_returned_members_exclude_directories(tmp_path):
    archive = build_zip(tmp_path / "dirs.zip", [("groove/", b""), ("groove/x.mid", MIDI)])
    assert safe_unzip(archive, tmp_path / "gmd") == ["groove/x.mid"]


def test_failure_while_extracting_leaves_no_staging_folder(tmp_path):
    # A file and a folder of the same name: passes the checks, fails half-way through writing.
    archive = build_zip(tmp_path / "clash.zip", [("groove/x", b"file"), ("groove/x/y.mid", MIDI)])
    before = sorted(os.listdir(tmp_path))
    target = tmp_path / "gmd"
    with pytest.raises((OSError, CorruptArchive, UnsafeArchive)):
        safe_unzip(archive, target)
    assert_nothing_left(tmp_path, target, before)


# ---------------------------------------------------------------- size limits (zip bombs)


def _set_declared_size(data: bytearray, member: str, size: int) -> None:
    """Makes `member` declare `size` uncompressed bytes, in its central directory record (which
    zipfile reads) and its local header."""
    position = _central_directory_crc_offset(bytes(data), member) - 16
    data[position + 24 : position + 28] = struct.pack("<I", size)
    (local,) = struct.unpack("<I", data[position + 42 : position + 46])
    data[local + 22 : local + 26] = struct.pack("<I", size)


def test_member_declaring_2_gib_is_refused_before_anything_is_written(tmp_path):
    good = build_zip(tmp_path / "good.zip", [("groove/info.csv", b"a,b\n1,2\n"), ("groove/big.mid", MIDI * 100)])
    data = bytearray(good.read_bytes())
    _set_declared_size(data, "groove/big.mid", 2**31)
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(bytes(data))
    message = refusal(archive, UnsafeArchive, tmp_path)
    assert str(archive) in message and "'groove/big.mid'" in message and "2048.0 MiB" in message, message


def test_members_adding_up_past_the_limit_are_refused_naming_the_one_that_passes_it(tmp_path):
    third = 1 << 20
    archive = build_zip(tmp_path / "big.zip", [(f"groove/{i}.mid", os.urandom(third)) for i in range(3)])
    with pytest.raises(UnsafeArchive, match=r"members up to 'groove/2.mid'.*add up to 3.0 MiB"):
        safe_unzip(archive, tmp_path / "gmd", max_total_bytes=3 * third - 1)
    assert not (tmp_path / "gmd").exists()
    assert len(safe_unzip(archive, tmp_path / "gmd", max_total_bytes=3 * third)) == 3


def test_member_with_a_bomb_ratio_is_refused(tmp_path):
    """8 MiB of zeros deflate to 8 KB (about 1,000:1); GMD's members compress 10:1 at most."""
    archive = build_zip(tmp_path / "zeros.zip", [("groove/info.csv", b"a\n"), ("groove/zeros.mid", bytes(8 << 20))])
    with pytest.raises(UnsafeArchive) as caught:
        safe_unzip(archive, tmp_path / "gmd")
    message = str(caught.value)
    assert str(archive) in message and "'groove/zeros.mid'" in message and "zip bomb" in message, message
    assert not (tmp_path / "gmd").exists()


def test_real_gmd_archives_pass_the_size_checks(tmp_path):
    from beatvae.unpack import check_sizes

    for archive in (SAMPLE, REPO / "data/gmd-full/groove-v1.0.0-midionly.zip"):
        with zipfile.ZipFile(archive) as zipped:
            check_sizes(archive, zipped.infolist())


def test_member_that_unpacks_to_more_than_it_declares_stops_at_its_declared_size(tmp_path):
    """Declares 1 KiB, deflates to 8 MiB: refused, with no more than 1 KiB of it ever written."""
    good = build_zip(tmp_path / "good.zip", [("groove/liar.mid", bytes(8 << 20))])
    data = bytearray(good.read_bytes())
    _set_declared_size(data, "groove/liar.mid", 1024)
    archive = tmp_path / "liar.zip"
    archive.write_bytes(bytes(data))
    before = sorted(os.listdir(tmp_path))
    with pytest.raises((UnsafeArchive, CorruptArchive), match="groove/liar.mid"):
        safe_unzip(archive, tmp_path / "gmd")
    assert_nothing_left(tmp_path, tmp_path / "gmd", before)
