"""Fixtures for the browser tests: one real Chromium per module, the loopback web apps, a probe page."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.geometry import ScreenPoint, Size
from environments.browser import DEFAULT_VIEWPORT, BrowserEnvironment
from environments.conformance import Box


@pytest.fixture
def make_env(browser, server):
    """``make_env(viewport, scale, path="probe.html", **options)`` -> a ready BrowserEnvironment on ``path``."""
    made: list[BrowserEnvironment] = []

    def make(viewport: Size = DEFAULT_VIEWPORT, scale: float = 1.0, path: str = "probe.html", **options):
        env = BrowserEnvironment(None, viewport, scale, browser=browser, **options)
        made.append(env)
        env.goto(server.url(path))
        return env

    yield make
    for env in made:
        env.close()


class ProbeDisplay:
    """`TargetDisplay` of the probe page: draws the magenta target, reports where the page saw the click."""

    def __init__(self, env: BrowserEnvironment) -> None:
        self.env = env

    def show_target(self, box: Box) -> None:
        self.env.page.evaluate("(b) => { window.showTarget(...b); window.__probe.lastClick = null; }", list(box))
        self.env.settle()

    def last_click(self) -> ScreenPoint | None:
        xy = self.env.page.evaluate("window.__probe.lastClick")
        return ScreenPoint(*xy) if xy else None


@pytest.fixture
def tmp_out(tmp_path: Path) -> Path:
    return tmp_path / "run"
