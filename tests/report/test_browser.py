"""The report in a real browser: headless Chromium, network off, driven over the DevTools protocol.

Chromium speaks the protocol over a pipe (``--remote-debugging-pipe``: it reads
NUL-terminated JSON from fd 3 and writes to fd 4), so no websocket client is needed.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (`apt-get install chromium`; "
                                                          ".ci/run installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--mute-audio", "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe"]

# Waits for every <img> to decode and every <audio> to load its metadata, then decodes each
# clip's bytes with Web Audio: "decoded data", not just "an element exists".
CHECK_MEDIA = """
(async () => {
  const withTimeout = (p, ms) => Promise.race([p, new Promise(r => setTimeout(() => r('timeout'), ms))]);
  const images = await Promise.all([...document.images].map(async im => {
    let err = null;
    try { await withTimeout(im.decode(), 20000); } catch (e) { err = String(e); }
    return {ok: err === null && im.complete && im.naturalWidth > 0 && im.naturalHeight > 0, err,
            width: im.naturalWidth, src: im.src.slice(0, 40)};
  }));
  const decoder = new OfflineAudioContext(1, 1, 16000);
  const audio = await Promise.all([...document.querySelectorAll('audio')].map(async a => {
    if (a.readyState < 1 && !a.error) {
      a.preload = 'auto'; a.load();
      await withTimeout(new Promise(r => { a.addEventListener('loadedmetadata', r, {once: true});
                                          a.addEventListener('error', r, {once: true}); }), 20000);
    }
    const src = a.currentSrc || a.src || (a.querySelector('source') || {}).src || '';
    let frames = 0, err = null;
    try { frames = (await decoder.decodeAudioData(await (await fetch(src)).arrayBuffer())).length; }
    catch (e) { err = String(e); }
    return {ok: !a.error && a.readyState >= 1 && a.duration > 0 && frames > 0, err, frames,
            duration: a.duration, mediaError: a.error ? a.error.code : null, src: src.slice(0, 40)};
  }));
  return JSON.stringify({images, audio});
})()
"""


class DevTools:
    """A headless Chromium and a blocking DevTools-protocol client over its pipe."""

    def __init__(self, profile: Path):
        to_browser_r, self._to_browser = os.pipe()
        from_browser, from_browser_w = os.pipe()
        # Move the child's ends out of the way of fds 3 and 4 before placing them there.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 20) for fd in (to_browser_r, from_browser_w)]

        def place_fds():
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=place_fds, pass_fds=(3, 4))
        for fd in (to_browser_r, from_browser_w, *high):
            os.close(fd)
        self._from_browser = from_browser
        self._next_id = 0
        self.messages: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                self.messages.put(None)
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                self.messages.put(json.loads(raw))

    def _next(self, timeout: float) -> dict:
        message = self.messages.get(timeout=timeout)
        if message is None:
            raise RuntimeError("Chromium closed the DevTools pipe: " + self.proc.stderr.read().decode()[-2000:])
        return message

    def call(self, method: str, session: str | None = None, timeout: float = 60, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._next(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._next(timeout)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except Exception:  # already gone; the kill below ends it either way
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)


def load_in_browser(page: Path, profile: Path) -> tuple[dict, list[dict], bytes]:
    """Open ``page`` offline; return the media check, the DevTools events and a full-page screenshot."""
    browser = DevTools(profile)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Network", "Page", "Runtime", "Log"):
            browser.call(f"{domain}.enable", session)
        browser.call("Network.emulateNetworkConditions", session, offline=True, latency=0, downloadThroughput=-1,
                     uploadThroughput=-1)
        browser.events.clear()  # from here on: the report's own loads and errors
        browser.call("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        result = browser.call("Runtime.evaluate", session, expression=CHECK_MEDIA, awaitPromise=True,
                              returnByValue=True, timeout=120)
        if "exceptionDetails" in result:
            raise AssertionError(f"the media check failed in the page: {result['exceptionDetails']}")
        media = json.loads(result["result"]["value"])
        shot = browser.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
        return media, browser.events, base64.b64decode(shot["data"])
    finally:
        browser.close()


def test_report_loads_offline_with_every_image_and_clip_decoded(denoise_run, tmp_path):
    media, events, screenshot = load_in_browser(denoise_run / "report.html", tmp_path / "profile")
    failed = [e["params"] for e in events if e.get("method") == "Network.loadingFailed"]
    assert not failed, f"failed resource loads: {failed}"
    urls = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), "the report fetches nothing from a network"
    errors = [e["params"] for e in events if e.get("method") in ("Runtime.exceptionThrown",)
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert not errors, f"errors in the page: {errors}"

    figures = len(list((denoise_run / "figures").glob("*.png")))
    assert len(media["images"]) >= figures > 0  # every figure of the run is on the page
    assert all(im["ok"] for im in media["images"]), [im for im in media["images"] if not im["ok"]]
    clips = len(list((denoise_run / "examples").glob("*.wav")))
    assert len(media["audio"]) == clips > 0
    assert all(a["ok"] for a in media["audio"]), [a for a in media["audio"] if not a["ok"]]

    shot = Image.open(io.BytesIO(screenshot))
    (tmp_path / "report.png").write_bytes(screenshot)
    assert shot.width >= 400 and shot.height > 1000  # the whole page, not an empty viewport
    colours = shot.convert("L").getextrema()
    assert colours[1] - colours[0] > 100, "the screenshot shows text and figures, not a blank page"


def test_a_missing_image_is_caught(tmp_path):
    # The check itself can fail: a page whose image does not decode and whose clip is no sound.
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="missing.png">'
                    '<audio controls src="data:audio/wav;base64,AAAA"></audio></body></html>')
    media, events, _ = load_in_browser(page, tmp_path / "profile")
    assert [e for e in events if e.get("method") == "Network.loadingFailed"]
    assert not media["images"][0]["ok"] and not media["audio"][0]["ok"]


@pytest.mark.skipif(shutil.which("jupyter") is None, reason="jupyter nbconvert is not installed (not an sslab dependency; "
                                                            "Debian: jupyter-nbconvert)")
def test_notebook_through_nbconvert_shows_every_figure_and_clip_without_a_kernel(denoise_run, tmp_path):
    proc = subprocess.run(["jupyter", "nbconvert", "--to", "html", "--output-dir", str(tmp_path),
                           str(denoise_run / "report.ipynb")], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip("jupyter is installed without nbconvert")
    assert proc.returncode == 0, proc.stderr
    media, events, _ = load_in_browser(tmp_path / "report.html", tmp_path / "profile")
    # nbconvert's template links its own scripts (MathJax, require.js), which may be absent
    # offline; what the notebook itself embeds must all load.
    failed = [e["params"]["requestId"] for e in events if e.get("method") == "Network.loadingFailed"]
    requested = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in events
                 if e.get("method") == "Network.requestWillBeSent"}
    assert not [requested.get(r, "") for r in failed if requested.get(r, "").startswith("data:")]
    figures = len(list((denoise_run / "figures").glob("*.png")))
    assert len(media["images"]) >= figures > 0 and all(im["ok"] for im in media["images"])
    clips = len(list((denoise_run / "examples").glob("*.wav")))
    assert len(media["audio"]) == clips and all(a["ok"] for a in media["audio"]), media["audio"]
