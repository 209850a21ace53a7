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
         "--no-first-run", "--mute-audio", "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe",
         "--autoplay-policy=no-user-gesture-required"]

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


# What a reader sees at the emulated width: each player's rendered width and whether it plays
# (currentTime moves), every element that leaves the page sideways outside a box that scrolls,
# text cut off by a box that hides its overflow, and every drawn equation's size.
CHECK_LAYOUT = """
(async () => {
  const vw = document.documentElement.clientWidth;
  const scrollBox = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll') return p;
    }
    return null;
  };
  const name = el => el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined ? '.' + el.className : '')
                     + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  const outside = [], clipped = [];
  for (const el of document.querySelectorAll('main *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
    const box = scrollBox(el);
    const bound = box ? box.getBoundingClientRect() : {left: 0, right: vw};
    if (!box && (r.right > bound.right + 1 || r.left < bound.left - 1)) outside.push(name(el));
    const o = getComputedStyle(el).overflowX;
    if ((o === 'hidden' || o === 'clip') && el.scrollWidth > el.clientWidth + 1) clipped.push(name(el));
    if (getComputedStyle(el).textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1) clipped.push(name(el));
  }
  const players = await Promise.all([...document.querySelectorAll('audio')].map(async a => {
    a.muted = true;
    let played = false, err = null;
    try {
      await a.play();
      for (let i = 0; i < 100 && !(a.currentTime > 0); i++) await new Promise(r => setTimeout(r, 100));
      played = a.currentTime > 0;
      a.pause();
    } catch (e) { err = String(e); }
    return {width: a.getBoundingClientRect().width, played, err};
  }));
  // The claims table must read without scrolling: on a phone its rows become cards.
  const scrolledClaims = [...document.querySelectorAll('table.claims')].filter(t => t.scrollWidth > t.parentElement.clientWidth + 1).length;
  const equations = [...document.querySelectorAll('.math svg')].map(s => {
    const r = s.getBoundingClientRect();
    return {width: r.width, height: r.height, paths: s.querySelectorAll('path, use').length};
  });
  return JSON.stringify({window: window.innerWidth, viewport: vw, pageWidth: document.documentElement.scrollWidth, outside, clipped, scrolledClaims,
                         players, equations});
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


def load_in_browser(page: Path, profile: Path, width: int = 1280, layout: list | None = None
                    ) -> tuple[dict, list[dict], bytes]:
    """Open ``page`` offline in a window ``width`` px wide (a phone's, with its viewport rules, below
    500 px); return the media check, the DevTools events and a full-page screenshot. With a
    ``layout`` list, the layout check (CHECK_LAYOUT) is appended to it."""
    browser = DevTools(profile)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Network", "Page", "Runtime", "Log"):
            browser.call(f"{domain}.enable", session)
        browser.call("Emulation.setDeviceMetricsOverride", session, width=width, height=844 if width < 500 else 900,
                     deviceScaleFactor=1, mobile=width < 500)
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
        if layout is not None:
            result = browser.call("Runtime.evaluate", session, expression=CHECK_LAYOUT, awaitPromise=True,
                                  returnByValue=True, timeout=120)
            if "exceptionDetails" in result:
                raise AssertionError(f"the layout check failed in the page: {result['exceptionDetails']}")
            layout.append(json.loads(result["result"]["value"]))
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


@pytest.mark.parametrize("width", [1280, 390])
def test_players_are_wide_and_play_nothing_leaves_the_screen_and_equations_are_drawn(denoise_run, tmp_path, width):
    layout: list = []
    media, events, _ = load_in_browser(denoise_run / "report.html", tmp_path / "profile", width, layout)
    (seen,) = layout
    assert seen["window"] == width and seen["pageWidth"] <= seen["viewport"], "the page scrolls sideways"
    assert not seen["outside"], f"elements past the screen's edge at {width} px: {seen['outside'][:10]}"
    assert not seen["clipped"], f"text cut off at {width} px: {seen['clipped'][:10]}"
    assert seen["scrolledClaims"] == 0, "a verdict hides past the claims table's edge"
    players = seen["players"]
    assert len(players) == len(media["audio"]) > 0
    assert all(p["width"] >= 250 for p in players), [p["width"] for p in players]
    assert all(p["played"] for p in players), [p for p in players if not p["played"]]
    # The IBM equation, drawn (network off: no MathJax could have done it) as glyph paths with a real size.
    assert seen["equations"] and all(e["width"] > 100 and e["height"] > 10 and e["paths"] > 10
                                     for e in seen["equations"]), seen["equations"]
    assert all(im["ok"] for im in media["images"])


def test_the_layout_check_catches_narrow_players_clipped_text_and_wide_tables(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width"></head><body><main>'
                    '<table><tr><td style="white-space:nowrap">' + "inconclusive " * 20 + "</td></tr></table>"
                    '<p style="width:60px;overflow:hidden;white-space:nowrap">inconclusive</p>'
                    '<audio controls style="width:96px" src="data:audio/wav;base64,AAAA"></audio></main></body></html>')
    layout: list = []
    load_in_browser(page, tmp_path / "profile", 390, layout)
    (seen,) = layout
    assert seen["pageWidth"] > 390 and any(o.startswith("td") for o in seen["outside"])
    assert any(c.startswith("p") for c in seen["clipped"])
    assert seen["players"][0]["width"] < 250 and not seen["players"][0]["played"]


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
