"""The conformance check every environment adapter passes (Gymnasium's ``check_env``, for clicks).

A target in `TARGET_RGB` is shown at known places; a `TargetSeekingModel` finds it *in the model-space
image of the prompt* (so nothing is assumed about the mapping) and answers with a click at its centre,
as text; the real pipeline (parse → validate → map → execute) carries it out; the adapter's display
reports where the click landed. A click outside the target fails the check. Run it in your CI with your
own adapter: implement `TargetDisplay` for it and call `check_environment`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from agent.geometry import ScreenPoint, Size
from agent.loop import Agent, AgentConfig
from agent.models.base import Generation
from agent.prompt import Prompt
from environments.base import Environment

TARGET_RGB = (255, 0, 255)
Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in input space, x2/y2 exclusive


class TargetDisplay(Protocol):
    """What an adapter's test app offers: draw a target, tell where the last click landed."""

    def show_target(self, box: Box) -> None: ...

    def last_click(self) -> ScreenPoint | None: ...


class TargetSeekingModel:
    """A model that clicks the centre of the `TARGET_RGB` pixels it sees in the newest screenshot."""

    name = "target-seeker"

    def __init__(self, tool: str = "computer_use", tolerance: int = 40) -> None:
        self.tool, self.tolerance = tool, tolerance
        self.answers: list[tuple[float, float]] = []

    def generate(self, prompt: Prompt) -> Generation:
        pixels = np.asarray(prompt.images[-1].convert("RGB"), dtype=np.int16)
        mask = (np.abs(pixels - np.array(TARGET_RGB)).max(axis=2) <= self.tolerance)
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            wait = {"name": self.tool, "arguments": {"action": "wait", "time": 0}}
            return Generation(f"<tool_call>\n{json.dumps(wait)}\n</tool_call>")
        # centre of the target's bounding box, in the pixels of the image the model saw (+0.5: pixel centres)
        x, y = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
        self.answers.append((x, y))
        action = "left_click" if self.tool == "computer_use" else "click"
        args = {"action": action, "coordinate": [round(float(x), 1), round(float(y), 1)]}
        return Generation(f"<tool_call>\n{json.dumps({'name': self.tool, 'arguments': args})}\n</tool_call>")

    def describe(self) -> dict[str, Any]:
        return {"backend": "target-seeker", "name": self.name}


@dataclass(frozen=True)
class ClickCheck:
    box: Box
    model_point: tuple[float, float] | None
    landed: ScreenPoint | None

    @property
    def hit(self) -> bool:
        x1, y1, x2, y2 = self.box
        return self.landed is not None and x1 <= self.landed.x < x2 and y1 <= self.landed.y < y2


def default_boxes(size: Size, side: int = 24) -> list[Box]:
    """Targets near the four corners, the centre and two odd places, ``side`` px wide."""
    w, h, s = size.width, size.height, side
    places = [(4, 4), (w - s - 4, 4), (4, h - s - 4), (w - s - 4, h - s - 4), ((w - s) // 2, (h - s) // 2),
              (w // 3 + 7, h // 5 + 3), (2 * w // 3 - 5, 3 * h // 4 + 1)]
    return [(x, y, x + s, y + s) for x, y in places]


def check_environment(
    env: Environment,
    display: TargetDisplay,
    boxes: Iterable[Box] | None = None,
    *,
    config: AgentConfig | None = None,
) -> list[ClickCheck]:
    """Click every target through the real pipeline; returns one `ClickCheck` per target."""
    config = config or AgentConfig(max_steps=1, max_retries=0)
    checks = []
    for box in boxes if boxes is not None else default_boxes(env.observe().input_size):
        display.show_target(box)
        model = TargetSeekingModel(env.tool)
        Agent(model, env, config).run("Click the magenta square.")
        checks.append(ClickCheck(box, model.answers[-1] if model.answers else None, display.last_click()))
    return checks


def assert_conformant(checks: list[ClickCheck], label: str = "") -> None:
    """Raise AssertionError naming every missed target."""
    misses = [c for c in checks if not c.hit]
    if misses:
        lines = [f"target {c.box}: model clicked {c.model_point}, landed at {c.landed}" for c in misses]
        raise AssertionError(f"{label}: {len(misses)} of {len(checks)} clicks missed\n" + "\n".join(lines))
