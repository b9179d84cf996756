"""Fixtures for the desktop tests: a real Xvfb (through DesktopEnvironment's --virtual-display path),
the Tk test app running on it as a separate process, and helpers that speak to the model in text."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agent.geometry import Geometry, ScreenPoint, Size
from agent.loop import Agent, AgentConfig, EpisodeResult
from agent.models import ReplayModel
from environments.conformance import TARGET_RGB, Box
from environments.desktop import DesktopEnvironment

APP = Path(__file__).with_name("tk_app.py")
SIZES = ["1280x720", "1920x1080", "1366x768"]


class TkApp:
    """The Tk app as a process: commands over stdin, every event it reports kept in ``events``."""

    def __init__(self, environ: dict[str, str]) -> None:
        import os

        self.proc = subprocess.Popen(
            [sys.executable, str(APP)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=os.environ | environ, encoding="utf-8",
        )
        self.events: list[dict] = []
        self._new: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._ids = 0
        self.wait_for(lambda e: e["type"] == "ready", timeout=20, what="the Tk app to start")

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._new.put(json.loads(line))
        self._new.put({"type": "exit"})

    def wait_for(self, match, *, since: int = 0, timeout: float = 5.0, what: str = "an event") -> dict:
        """The first event after index ``since`` that ``match``es; waits for it (observable state)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[since:]:
                if match(event):
                    return event
            since = len(self.events)
            try:
                event = self._new.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"timed out waiting for {what}; events so far: {self.events[-8:]}") from None
            if event["type"] == "exit":
                raise AssertionError(f"the Tk app exited while waiting for {what}")
            self.events.append(event)
            if match(event):
                return event

    def mark(self) -> int:
        self.drain()
        return len(self.events)

    def drain(self) -> None:
        while not self._new.empty():
            self.events.append(self._new.get())

    def command(self, cmd: str, **args) -> dict:
        self._ids += 1
        ident, since = self._ids, self.mark()
        self.proc.stdin.write(json.dumps({"cmd": cmd, "id": ident, **args}) + "\n")
        self.proc.stdin.flush()
        return self.wait_for(lambda e: e["type"] == "ack" and e["id"] == ident, since=since, what=f"ack of {cmd}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class TkTargetDisplay:
    """The conformance check's `TargetDisplay`, backed by the Tk app and the screen itself."""

    def __init__(self, app: TkApp, env: DesktopEnvironment) -> None:
        self.app, self.env, self._since = app, env, 0

    def show_target(self, box: Box) -> None:
        self.app.command("target", box=list(box))
        wait_for_pixel(self.env, ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), TARGET_RGB)
        self._since = self.app.mark()

    def last_click(self) -> ScreenPoint | None:
        try:
            event = self.app.wait_for(lambda e: e["type"] == "click", since=self._since, timeout=3)
        except AssertionError:
            return None
        return ScreenPoint(event["x"], event["y"])


def wait_for_pixel(env: DesktopEnvironment, xy: tuple[int, int], rgb: tuple[int, int, int], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obs = env.observe()  # xy is in input space; the screenshot starts at the monitor's origin
        if obs.screenshot.getpixel((xy[0] - obs.origin[0], xy[1] - obs.origin[1])) == rgb:
            return
        time.sleep(0.01)
    raise AssertionError(f"{rgb} never appeared at {xy}")


@pytest.fixture(scope="session", params=SIZES)
def desktop(request):
    """(env, app) on a fresh Xvfb of each size; the env started the Xvfb itself (--virtual-display)."""
    try:
        import tkinter  # noqa: F401 - the test app needs it
    except ImportError:
        pytest.fail("the desktop tests need tkinter for their test app: `sudo apt-get install python3-tk`")
    env = DesktopEnvironment(virtual=Size.parse(request.param))
    app = TkApp(env.virtual.environ())
    try:
        wait_for_pixel(env, (104, 104), (0x5A, 0x8D, 0xD6))  # the "left" target is on screen
        yield env, app
    finally:
        app.close()
        env.close()


def call(action: str, at: tuple[float, float] | None = None, **args) -> dict:
    """One computer_use action; ``at`` is an input-space point, converted to model space when run."""
    return {"action": action, "at": at, **args}


def run_script(env: DesktopEnvironment, actions: list[dict], config: AgentConfig | None = None) -> EpisodeResult:
    """Run ``actions`` through the whole pipeline, as model text in model space, then terminate."""
    config = config or AgentConfig(max_steps=len(actions) + 1, max_retries=0)
    obs = env.unwrapped.observe()  # a composed env must be reset first; the adapter can be looked at
    geometry = Geometry.for_screenshot(obs.screenshot_size, obs.input_size, min_pixels=config.min_pixels,
                                       max_pixels=config.max_pixels, origin=obs.origin)
    texts = []
    for spec in [*actions, call("terminate", status="success")]:
        args = {k: v for k, v in spec.items() if k != "at"}
        if spec["at"] is not None:
            point = geometry.to_model(ScreenPoint(*spec["at"]))
            args["coordinate"] = [round(point.x, 2), round(point.y, 2)]
        texts.append('<tool_call>\n' + json.dumps({"name": "computer_use", "arguments": args}, ensure_ascii=False)
                     + '\n</tool_call>')
    result = Agent(ReplayModel(texts), env, config).run("scripted")
    assert result.outcome == "success", result
    return result
