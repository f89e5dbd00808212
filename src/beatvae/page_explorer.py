"""The beats page's beat explorer: the scripts that run each variant's exported model in the page
(results/browser/<variant>, written by beatvae.browser_model) and the section that drives them.

A page opened from file:// may not fetch files beside it, so each model travels inside the page: its
spec and manifest as JSON, its weights as base64 (report/page/explorer.js answers magenta.js's fetches
with them)."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from beatvae.page_cards import DRUM_LANES, element_id
from beatvae.settings import BROWSER_CONFIG_FILE, BROWSER_MANIFEST_FILE, BROWSER_WEIGHTS_FILE
from beatvae.smf import DEFAULT_QPM

# Load order: the explorer first (magenta.js keeps the `fetch` it finds when it loads), then the
# bundle, the models, and last the controls (they read the models' specs).
EXPLORER_SCRIPT = Path("page") / "explorer.js"
FULL_BUNDLE = Path("vendor") / "magenta-music-1.23.1.js"
CONTROLS_SCRIPT = Path("page") / "explorer_ui.js"
# General MIDI 2's drum kits (a program change on channel 10) offered for the downloads.
KITS = {"standard": 0, "room": 8, "power": 16, "electronic": 24, "TR-808": 25, "jazz": 32, "brush": 40}


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
    parts.extend(model_script(name, folder) for name, folder in models.items())
    return "\n".join(parts)


def controls_script(assets_dir: str | os.PathLike) -> str:
    """The explorer sections' behaviour; it goes after the sections (it sets them up as it runs)."""
    return _script((Path(assets_dir) / CONTROLS_SCRIPT).read_text(encoding="utf-8"))


def _field(label: str, control: str) -> str:
    return f"<label>{label} {control}</label>"


def explorer_section(variant: str, groove: str | None, temperature: float, seed: int) -> str:
    """The explorer of one drum variant's model (registered under `variant`); `groove`: the registered
    groove model that humanizes its beats, if any. `temperature` and `seed` start as the workflow's."""
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
        "aria-labelledby": f"{section_id}-title",
    }
    opening = " ".join(f'{key}="{html.escape(str(value))}"' for key, value in attributes.items())
    return f"""<section {opening}>
<h3 id="{section_id}-title">Make new beats with {html.escape(variant)}</h3>
<p class="settings">The model runs in this page (@magenta/music, nothing else needed). Generate draws new
latent vectors from the seed; the decoder then samples each step at the temperature (0: the most likely
drums). Its sampling takes no seed, so one seed gives the same beats again only at temperature 0. Beats
made here stay listed until the page is closed; one plays at a time with the player's built-in drum
sounds. The kit is the General MIDI drum kit the MIDI download asks a DAW for.</p>
<form class="explorer-controls">
{_field("Beats", '<input type="number" name="count" min="1" max="16" value="4">')}
{_field("Temperature", f'<input type="number" name="temperature" min="0" max="2" step="0.05" value="{temperature}">')}
{_field("Seed", f'<input type="number" name="seed" min="0" step="1" value="{seed}">')}
<button type="button" data-action="generate">Generate</button>
{_field("Variation (z nudge)", '<input type="number" name="nudge" min="0" max="2" step="0.05" value="0.3">')}
<button type="button" data-action="interpolate">Interpolate the two picked beats</button>
{_field("Walk", '<input type="range" name="walk" min="0" max="7" value="0" disabled>')}
<output name="walk-step"></output>
{_field("Tempo (qpm)", f'<input type="number" name="qpm" min="40" max="240" value="{DEFAULT_QPM:g}">')}
{_field("Kit", f'<select name="kit">{kits}</select>')}
{humanize}
</form>
<p class="explorer-status" role="status"></p>
<ol class="explorer-beats"></ol>
</section>"""
