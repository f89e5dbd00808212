"""A real headless Chromium driven over the DevTools protocol on a pipe (no extra packages):
loads a page, records console errors, evaluates JavaScript and takes a full-page screenshot."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
# axe-core (npm, MPL-2.0; tests/vendor/README.md): the accessibility checker, for tests only.
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"


class Browser:
    def __init__(self, width=1280, height=1000):
        if CHROMIUM is None:
            raise RuntimeError("no chromium on PATH: apt-get install chromium (make system-packages)")
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def child_pipes():  # the protocol's fixed descriptors: commands on 3, replies on 4
            commands, replies = os.dup(to_browser_read), os.dup(from_browser_write)  # either may be 3 or 4
            os.dup2(commands, 3)  # dup2 makes them inheritable across exec
            os.dup2(replies, 4)

        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile.name}",
                f"--window-size={width},{height}",
                "about:blank",
            ],  # fmt: skip
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_pipes,
            close_fds=False,  # Popen would close 3 and 4 after child_pipes ran
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.session = None
        self.frame = None  # the page's own frame, once open() has loaded it
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", targetId=page["targetId"], flatten=True, session=False)[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")

    def _read_message(self, timeout):
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], timeout)
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, timeout=60, session=True, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(max(0.1, deadline - time.monotonic()))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for_event(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._read_message(max(0.1, deadline - time.monotonic())))

    def evaluate(self, expression, user_gesture=False):
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True, userGesture=user_gesture
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def evaluate_in_frame(self, expression):
        """`expression` evaluated in a frame inside the page (a data: URL frame is another origin, so
        the page's own script cannot look inside it); None while no such frame has a script context."""
        contexts = [
            event["params"]["context"]
            for event in self.events
            if event.get("method") == "Runtime.executionContextCreated"
        ]
        inner = [context["id"] for context in contexts if context.get("auxData", {}).get("frameId") != self.frame]
        for context in reversed(inner):  # the newest first: the frame's document replaces about:blank
            try:
                result = self.send("Runtime.evaluate", expression=expression, contextId=context, returnByValue=True)
            except RuntimeError:  # that context is gone
                continue
            return result["result"].get("value")
        return None

    def accessibility_violations(self, impacts=("serious", "critical")) -> list[str]:
        """What axe-core finds on the page at `impacts`: "rule (impact): element: what to fix" per element."""
        self.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
        found = self.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then((r) => JSON.stringify(r.violations))"
        )
        return [
            f"{rule['id']} ({rule['impact']}): {' '.join(map(str, node['target']))}: {node['failureSummary']}"
            for rule in json.loads(found)
            if rule["impact"] in impacts
            for node in rule["nodes"]
        ]

    def wait_until(self, expression, timeout=60):
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def open(self, url, timeout=60):
        self.frame = self.send("Page.navigate", url=url)["frameId"]
        self.wait_for_event("Page.loadEventFired", timeout)

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far (warnings are not errors)."""
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(
                    " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
                )
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(params["entry"]["text"])
        return errors

    def console_warnings(self) -> list[str]:
        return [
            event["params"]["entry"]["text"]
            for event in self.events
            if event.get("method") == "Log.entryAdded" and event["params"]["entry"]["level"] == "warning"
        ]

    def screenshot(self, path) -> Path:
        """The whole page, not just the window, as a PNG."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self):
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close", session=False, timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self.profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
