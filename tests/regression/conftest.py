"""Fixtures for recorded-session regression tests: a real Chromium, the demo app, a recorded demonstration."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent.geometry import Size
from agent.models.base import Generation
from environments.browser import BrowserEnvironment
from tests.regression.demonstration import VIEWPORT, record_signin


@pytest.fixture(scope="module")
def recorded(browser, server, tmp_path_factory) -> Path:
    """One demonstration per module (8 steps: 7 actions and the final terminate)."""
    return record_signin(browser, server, tmp_path_factory.mktemp("rec") / "signin")


@pytest.fixture
def session(recorded: Path, tmp_path: Path) -> Path:
    """A private copy of the recording (tests may update it)."""
    return Path(shutil.copytree(recorded, tmp_path / "session"))


@pytest.fixture
def live_env(browser):
    made: list[BrowserEnvironment] = []

    def make(url: str) -> BrowserEnvironment:
        env = BrowserEnvironment(url, VIEWPORT, browser=browser)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


class DomGroundingModel:
    """Scripted grounding model for the tests: re-finds the recorded target on the live page by its element
    id (what a visual model would do by looking) and answers the recorded action there, in model space.

    When the element is gone it answers the recorded point unchanged, like a model that did not notice:
    the replay must catch that by checking the screen that follows.
    """

    name = "dom-grounding"

    def __init__(self, env: BrowserEnvironment) -> None:
        self.env, self.calls, self.prompts = env, 0, []
        self.found: list[list[float] | None] = []  # the live box of each target looked for (None: gone)

    def generate(self, prompt: Any) -> Generation:
        self.calls += 1
        self.prompts.append(prompt)
        found = re.search(r"step \d+ was (\{.*?\})(?: on (\S+))?", prompt.user)
        action = json.loads(found.group(1))
        element = found.group(2) or ""
        if "coordinate" in action and "#" in element:
            box = self.env.page.evaluate(
                "(id) => { const e = document.getElementById(id); if (!e) return null; "
                "const r = e.getBoundingClientRect(); return r.width ? [r.left, r.top, r.right, r.bottom] : null; }",
                element.split("#", 1)[1])
            self.found.append(box)
            if box is not None:
                model = Size(*prompt.meta["model_size"])
                x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                action["coordinate"] = [round(x * model.width / VIEWPORT.width), round(y * model.height / VIEWPORT.height)]
        text = json.dumps({"name": "computer_use", "arguments": action})
        return Generation(f"<tool_call>\n{text}\n</tool_call>")

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted", "name": self.name}
