"""`ScriptedPolicy`: a stand-in model that reads the live DOM and answers with real model text.

It plays the part of Qwen2.5-VL in tests and when recording the shipped demo session: each step it
finds its next element in the page, takes the element's centre in CSS px, converts it to the model
space of the prompt's screenshot and answers with a ``<tool_call>`` — so the whole pipeline (parse,
validate, map, execute, settle) runs exactly as with the real model.
"""

from __future__ import annotations

import json
from typing import Any

from agent.geometry import Geometry, ScreenPoint, Size
from agent.models.base import Generation
from agent.prompt import Prompt

# (action, CSS selector or None, extra arguments): one entry per step
Step = tuple[str, str | None, dict[str, Any]]

PLANS: dict[str, list[Step]] = {
    "signin-notifications": [
        ("left_click", "#username", {}),
        ("type", None, {"text": "alice"}),
        ("left_click", "#password", {}),
        ("type", None, {"text": "wonderland"}),
        ("left_click", "#signin-button", {}),
        ("left_click", "#tab-settings", {}),
        ("left_click", "#toggle-email + span", {}),
        ("terminate", None, {"status": "success"}),
    ],
    "search-contact": [
        ("left_click", "#username", {}),
        ("type", None, {"text": "alice"}),
        ("left_click", "#password", {}),
        ("type", None, {"text": "wonderland\n"}),
        ("left_click", "#search", {}),
        ("type", None, {"text": "Grace Hopper"}),
        ("terminate", None, {"status": "success"}),
    ],
}


def tool_call(arguments: dict[str, Any], tool: str = "computer_use") -> str:
    """Model text for one call, as Qwen2.5-VL writes it."""
    return f"<tool_call>\n{json.dumps({'name': tool, 'arguments': arguments}, ensure_ascii=False)}\n</tool_call>"


class ScriptedPolicy:
    """Answers the steps of ``plan`` in order, pointing at elements of ``page`` (a Playwright Page)."""

    name = "scripted-dom-policy"

    def __init__(self, page: Any, plan: list[Step], viewport: Size) -> None:
        self.page, self.plan, self.viewport = page, list(plan), viewport
        self.index = 0
        self.prompts: list[Prompt] = []

    def generate(self, prompt: Prompt) -> Generation:
        self.prompts.append(prompt)
        if self.index >= len(self.plan):
            return Generation(tool_call({"action": "terminate", "status": "failure"}))
        action, selector, extra = self.plan[self.index]
        self.index += 1
        arguments: dict[str, Any] = {"action": action, **extra}
        if selector is not None:
            model = Size(*prompt.meta["model_size"])
            screenshot = Size(*prompt.images[-1].size)
            geometry = Geometry(screenshot, self.viewport, model)
            x, y = self.centre(selector)
            point = geometry.to_model(ScreenPoint(x, y))
            arguments["coordinate"] = [round(point.x), round(point.y)]
        return Generation(tool_call(arguments))

    def centre(self, selector: str) -> tuple[float, float]:
        """The centre of the element in CSS px of the viewport (scrolled into view first)."""
        element = self.page.locator(selector).first
        element.scroll_into_view_if_needed(timeout=5000)
        box = element.bounding_box(timeout=5000)
        if box is None:
            raise RuntimeError(f"{selector} is not visible on the page")
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted", "name": self.name, "steps": len(self.plan)}
