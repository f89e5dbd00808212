"""The sampled drum kits the beat explorer plays (beatvae.drum_kits): the vendored file holds a short,
audible OGG Vorbis hit for every kit and drum pitch, the kits sound different, and the function that
renders them makes such a file from the soundfont."""

import base64
import io
import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from beatvae.drum_kits import KIT_PITCHES, KITS, MAX_SECONDS, SAMPLE_RATE, load_kits, render_kits, trimmed

REPO = Path(__file__).resolve().parents[1]
VENDORED = REPO / "report" / "vendor" / "drum-kits-fluidr3.json"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
AUDIBLE_PEAK = 0.02  # -34 dBFS: a hit, not a silent file


def decoded(kits: dict) -> dict[tuple[str, int], np.ndarray]:
    """{(kit, pitch): samples} of a kits file, each OGG decoded by libsndfile."""
    hits = {}
    for kit, entry in kits["kits"].items():
        for pitch, ogg in entry["samples"].items():
            audio, rate = soundfile.read(io.BytesIO(base64.b64decode(ogg)), dtype="float32")
            assert rate == SAMPLE_RATE and audio.ndim == 1, f"{kit} {pitch}: mono at {SAMPLE_RATE} Hz"
            hits[kit, int(pitch)] = audio
    return hits


def check_hit(name, audio):
    assert 0.02 < len(audio) / SAMPLE_RATE <= MAX_SECONDS + 0.01, f"{name}: {len(audio) / SAMPLE_RATE:.2f} s"
    assert np.abs(audio).max() > AUDIBLE_PEAK, f"{name}: silent"
    assert np.abs(audio[:32]).max() > AUDIBLE_PEAK / 4, f"{name}: the hit starts at once, not after a gap"


def test_the_vendored_kits_hold_a_short_audible_hit_for_every_kit_and_drum_pitch():
    kits = load_kits(VENDORED)
    assert VENDORED.stat().st_size < 1_000_000, "small enough to carry in the page"
    assert {kit: entry["program"] for kit, entry in kits["kits"].items()} == KITS
    hits = decoded(kits)
    assert set(hits) == set(itertools.product(KITS, KIT_PITCHES))
    for (kit, pitch), audio in hits.items():
        check_hit(f"{kit} {pitch}", audio)


def test_the_vendored_kits_sound_different():
    """Each kit differs from every other in at least one drum (FluidR3's kits share some samples), and
    within a kit each drum is its own sound."""
    hits = decoded(load_kits(VENDORED))

    def same(a, b):
        return len(a) == len(b) and np.allclose(a, b, atol=1e-3)

    for first, second in itertools.combinations(KITS, 2):
        differing = [p for p in KIT_PITCHES if not same(hits[first, p], hits[second, p])]
        assert differing, f"{first} and {second} sound the same"
    for kit in KITS:
        for a, b in itertools.combinations(KIT_PITCHES, 2):
            assert not same(hits[kit, a], hits[kit, b]), f"{kit}: {a} and {b} are one sound"


def test_a_hit_starts_at_once_and_is_cut_after_its_tail_or_at_the_longest_length_with_a_fade():
    rate = SAMPLE_RATE
    ring = np.exp(-np.arange(3 * rate) / (0.1 * rate)).astype(np.float32)  # falls below -60 dB after 0.69 s
    short = trimmed(np.concatenate([np.zeros(100, np.float32), ring]))
    assert 0.6 < len(short) / rate < 0.75 and short[0] == 1 and short[-1] == 0, "from the hit to its tail's end"
    long = trimmed(np.ones(3 * rate, np.float32))
    assert len(long) == MAX_SECONDS * rate and long[-1] == 0 and long[0] == 1
    with pytest.raises(ValueError, match="silent"):
        trimmed(np.zeros(rate, np.float32))


@pytest.mark.skipif(
    shutil.which("fluidsynth") is None or shutil.which("oggenc") is None or not SOUNDFONT.is_file(),
    reason="rendering kits needs fluidsynth, vorbis-tools and fluid-soundfont-gm (make system-packages)",
)
def test_render_kits_renders_each_kits_hits_from_the_soundfont(tmp_path):
    out = tmp_path / "kits.json"
    sizes = render_kits(SOUNDFONT, out, kits={"standard": 0, "TR-808": 25}, pitches=(36, 38))
    kits = load_kits(out)
    assert kits["soundfont"] == SOUNDFONT.name and set(sizes) == {"standard", "TR-808"}
    hits = decoded(kits)
    assert set(hits) == {("standard", 36), ("standard", 38), ("TR-808", 36), ("TR-808", 38)}
    for name, audio in hits.items():
        check_hit(name, audio)
    assert not np.allclose(hits["standard", 36][:2000], hits["TR-808", 36][:2000], atol=1e-2), (
        "the program chose the kit"
    )
    assert [path.name for path in tmp_path.iterdir()] == ["kits.json"], "no intermediate files left"
    # The vendored file is what this function writes (to the sample with this fluidsynth, 2.3.1; in
    # shape with another, whose rendering may differ in its last bits).
    vendored = decoded(load_kits(VENDORED))
    for name, audio in hits.items():
        there = vendored[name]
        assert abs(len(audio) - len(there)) < 0.05 * len(there), name
        length = min(len(audio), len(there))
        assert np.corrcoef(audio[:length], there[:length])[0, 1] > 0.99, name
