"""The beats page's beat explorer: the scripts that run each variant's exported model in the page
(results/browser/<variant>, written by beatvae.browser_model) and the section that drives them.

A page opened from file:// may not fetch files beside it, so each model travels inside the page: its
spec and manifest as JSON, its weights as base64 (report/page/explorer.js answers magenta.js's fetches
with them), and so do the sampled drum kits it plays beats with (beatvae.drum_kits). A variant's section
starts with the run's own samples (run_beats): their notes and the latent vectors they were decoded from."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from beatvae.drum_kits import KITS
from beatvae.page_cards import DRUM_LANES, element_id
from beatvae.schema import setting_schema
from beatvae.settings import BROWSER_CONFIG_FILE, BROWSER_MANIFEST_FILE, BROWSER_WEIGHTS_FILE

# Load order: the explorer first (magenta.js keeps the `fetch` it finds when it loads), then the
# bundle, the models, and last the controls (they read the models' specs).
EXPLORER_SCRIPT = Path("page") / "explorer.js"
FULL_BUNDLE = Path("vendor") / "magenta-music-1.23.1.js"
CONTROLS_SCRIPT = Path("page") / "explorer_ui.js"
DRUM_KITS = Path("vendor") / "drum-kits-fluidr3.json"  # beatvae.drum_kits.render_kits wrote it
STEPS_PER_QUARTER = 4  # the models' grid: a run sample's notes are quantized to 16ths
RUN_SAMPLE = re.compile(r"(?:^|/)sample_(\d+)$")  # sample_{i:02d}: row i of the run's latents.npy


def _script(code: str) -> str:
    code = re.sub(r"^//[#@] sourceMappingURL=.*$", "", code, flags=re.MULTILINE)  # no map to fetch
    return "<script>\n" + code.replace("</script", "<\\/script") + "\n</script>"


def model_script(name: str, folder: str | os.PathLike) -> str:
    """A <script> that hands one exported model to the explorer under `name`."""
    folder = Path(folder)
    spec = json.loads((folder / BROWSER_CONFIG_FILE).read_text(encoding="utf-8"))
    manifest = json.loads((folder / BROWSER_MANIFEST_FILE).read_text(encoding="utf-8"))
    weights = base64.b64encode((folder / BROWSER_WEIGHTS_FILE).read_bytes()).decode("ascii")
    arguments = ", ".join(json.dumps(value, separators=(",", ":")) for value in (name, spec, manifest, weights))
    return _script(f"beatvaeExplorer.register({arguments});")


def explorer_scripts(assets_dir: str | os.PathLike, models: Mapping[str, str | os.PathLike]) -> str:
    """The explorer's scripts, @magenta/music's full bundle and one model script per entry of
    `models` ({name: exported folder}), in the order they must load; "" without models."""
    if not models:
        return ""
    assets_dir = Path(assets_dir)
    parts = [_script((assets_dir / EXPLORER_SCRIPT).read_text(encoding="utf-8"))]
    parts.append(_script((assets_dir / FULL_BUNDLE).read_text(encoding="utf-8")))
    parts.append(_script(f"window.beatvaeDrumKits = {(assets_dir / DRUM_KITS).read_text(encoding='utf-8')};"))
    parts.extend(model_script(name, folder) for name, folder in models.items())
    return "\n".join(parts)


def controls_script(assets_dir: str | os.PathLike) -> str:
    """The explorer sections' behaviour; it goes after the sections (it sets them up as it runs)."""
    return _script((Path(assets_dir) / CONTROLS_SCRIPT).read_text(encoding="utf-8"))


def _field(label: str, control: str) -> str:
    return f"<label>{label} {control}</label>"


def quantized_notes(midi_path, qpm: float) -> list[list[int]]:
    """[[step, pitch, velocity], ...] of a run sample's MIDI, onsets quantized to 16ths at the run's `qpm`."""
    import mido

    now, notes = 0.0, []
    for message in mido.MidiFile(midi_path):  # message.time: seconds since the one before
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            notes.append([round(now * qpm / 60 * STEPS_PER_QUARTER), message.note, message.velocity])
    return notes


def run_beats(beats: Sequence[Mapping], latents_path, generation: Mapping) -> list[dict]:
    """The run's samples of one variant as its explorer lists them ({label, z, notes}, notes as
    quantized_notes): `beats` are the variant's page beats ({name, midi, humanized}); sample_{i:02d}'s
    z is row i of `latents_path` (results/samples/{variant}/{tag}/latents.npy); none without it."""
    if latents_path is None:
        return []
    import numpy as np

    latents = np.load(latents_path)
    found = []
    for beat in beats:
        sample = RUN_SAMPLE.search(beat["name"])
        if beat.get("humanized") or not sample:
            continue
        index = int(sample[1])
        found.append(
            {
                "label": f"run sample_{index:02d} (temperature {generation['temperature']}, seed {generation['seed']})",
                "z": latents[index].tolist(),
                "notes": quantized_notes(beat["midi"], generation["qpm"]),
            }
        )
    return found


def _tempo_field(qpm: float) -> str:
    """The tempo field, within the bounds the config's schema sets for generation.qpm (as the CLI's)."""
    bounds = setting_schema("generation.qpm")
    return f'<input type="number" name="qpm" min="{bounds["minimum"]:g}" max="{bounds["maximum"]:g}" value="{qpm:g}">'


def explorer_section(variant: str, groove: str | None, start: Mapping, run: Sequence[Mapping] = ()) -> str:
    """The explorer of one drum variant's model (registered under `variant`); `groove`: the registered
    groove model that humanizes its beats, if any. `start` ({temperature, seed, qpm}): the fields'
    first values, the workflow's. `run`: the run's samples listed first (run_beats)."""
    section_id = element_id("explorer", variant)
    kits = "".join(f'<option value="{program}">{html.escape(kit)}</option>' for kit, program in KITS.items())
    humanize = (
        _field("Humanize", '<input type="checkbox" name="humanize">')
        + _field("amount (%)", '<input type="range" name="amount" min="0" max="100" value="100">')
        if groove
        else ""
    )
    attributes = {
        "id": section_id,
        "class": "explorer",
        "data-model": variant,
        "data-groove": groove or "",
        "data-lanes": json.dumps([list(lane) for lane in DRUM_LANES]),
        "data-run-beats": json.dumps(list(run), separators=(",", ":")),
        "aria-labelledby": f"{section_id}-title",
    }
    opening = " ".join(f'{key}="{html.escape(str(value))}"' for key, value in attributes.items())
    temperature, seed = start["temperature"], start["seed"]
    run_text = (
        " The list starts with this run's own samples, each with the latent vector it was decoded from." if run else ""
    )
    return f"""<section {opening}>
<h3 id="{section_id}-title">Make new beats with {html.escape(variant)}</h3>
<p class="settings">The model runs in this page (@magenta/music, nothing else needed).{run_text} Generate
draws new latent vectors from the seed; the decoder then samples each step at the temperature (0: the most likely
drums). Its sampling takes no seed, so one seed gives the same beats again only at temperature 0. Any two
beats listed can be interpolated. Beats made here stay listed until the page is
closed; one plays at a time, with the kit chosen: General MIDI drum kits sampled from the FluidR3 GM
soundfont, the kit the MIDI download asks a DAW for too.</p>
<form class="explorer-controls">
{_field("Beats", '<input type="number" name="count" min="1" max="16" value="4">')}
{_field("Temperature", f'<input type="number" name="temperature" min="0" max="2" step="0.05" value="{temperature}">')}
{_field("Seed", f'<input type="number" name="seed" min="0" step="1" value="{seed}">')}
<button type="button" data-action="generate">Generate</button>
{_field("Variation (z nudge)", '<input type="number" name="nudge" min="0" max="2" step="0.05" value="0.3">')}
<button type="button" data-action="interpolate">Interpolate the two picked beats</button>
{_field("Walk", '<input type="range" name="walk" min="0" max="7" value="0" disabled>')}
<output name="walk-step"></output>
{_field("Tempo (qpm)", _tempo_field(start["qpm"]))}
{_field("Kit", f'<select name="kit">{kits}</select>')}
{humanize}
</form>
<p class="explorer-status" role="status"></p>
<ol class="explorer-beats"></ol>
</section>"""
