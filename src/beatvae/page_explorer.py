"""The beats page's beat explorer: the scripts that run each variant's exported model in the page
(results/browser/<variant>, written by beatvae.browser_model) and the section that drives them.

A page opened from file:// may not fetch files beside it, so each model travels inside the page: its
spec and manifest as JSON, its weights as base64 (report/page/explorer.js answers magenta.js's fetches
with them)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path

from beatvae.settings import BROWSER_CONFIG_FILE, BROWSER_MANIFEST_FILE, BROWSER_WEIGHTS_FILE

# Load order: the explorer first (magenta.js keeps the `fetch` it finds when it loads), then the bundle.
EXPLORER_SCRIPT = Path("page") / "explorer.js"
FULL_BUNDLE = Path("vendor") / "magenta-music-1.23.1.js"


def _script(code: str) -> str:
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
