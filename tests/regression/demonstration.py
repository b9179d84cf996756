"""Recording a demonstration on the demo app by driving the recorder like a person, shared by the regression
tests (through their conftest) and `tests/bench/bench_live_replay.py`; no pytest fixtures here, so a bench
imports it as is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.geometry import Size
from environments.browser import BrowserEnvironment
from environments.recorder import BrowserRecorder, recording
from environments.webapps import WebAppServer

VIEWPORT = Size(1280, 720)
MASKS = ["#toast"]  # the "Settings saved" toast fades on a timer: not part of what the tests compare


class Person:
    """Real mouse and keyboard input through the browser, each gesture followed by the recorder's poll."""

    def __init__(self, recorder: BrowserRecorder) -> None:
        self.recorder, self.page = recorder, recorder.env.page

    def click(self, selector: str) -> None:
        """A click at the middle of ``selector``."""
        box = self.page.locator(selector).bounding_box()
        self.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        self.recorder.poll()

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.recorder.poll()

    def press(self, *keys: str) -> None:
        """Each key pressed and recorded on its own (Playwright names: "Backspace", "Control+a")."""
        for key in keys:
            self.page.keyboard.press(key)
            self.recorder.poll()


def record_demo(browser: Any, server: WebAppServer, out: Path, instruction: str, script: Any) -> Path:
    """Record ``script(person)`` on the demo app at `VIEWPORT` into ``out`` (the session written at the end)."""
    with recording(BrowserEnvironment(None, VIEWPORT, browser=browser), out, server.url("demo/"),
                   instruction) as recorder:
        script(Person(recorder))
    return out


def signin(person: Person) -> None:
    """Sign in, open Settings, turn on email notifications: 7 actions (8 steps with the final terminate)."""
    person.click("#username")
    person.type("alice")
    person.click("#password")
    person.type("wonderland")
    person.click("#signin-button")
    person.click("#tab-settings")
    person.click("label.switch:has(#toggle-email) span")


def record_signin(browser: Any, server: WebAppServer, out: Path) -> Path:
    return record_demo(browser, server, out, "Sign in as alice and turn on email notifications", signin)
