"""A tiny app drawn with Pillow for the guard and gate tests: its screen changes only as its buttons say.

Input space 640x360. Buttons (x1, y1, x2, y2): "A" (20-120, 20-80) shows screen A, "B" (140-240, 20-80) shows
screen B, "next" (260-360, 20-80) adds one to a counter drawn as a bar, "dot" (380-480, 20-80) toggles a 2x2
pixel dot; anywhere else changes nothing. With ``caret`` a 2x18 text caret blinks between looks. Every executed device action is kept in ``events``.
"""

from __future__ import annotations

import json
from typing import Any

from PIL import Image, ImageDraw

from agent.geometry import Size
from environments.base import Command, EnvironmentBase, Observation, StepResult

BUTTONS = {"A": (20, 20, 120, 80), "B": (140, 20, 240, 80), "next": (260, 20, 360, 80), "dot": (380, 20, 480, 80)}
SIZE = Size(640, 360)


def centre(name: str) -> list[int]:
    x1, y1, x2, y2 = BUTTONS[name]
    return [(x1 + x2) // 2, (y1 + y2) // 2]  # input space == screenshot; model space is 644x364 here


def call(tool: str = "computer_use", **arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': tool, 'arguments': arguments})}\n</tool_call>"


def click(name: str) -> str:
    x, y = centre(name)
    return call(action="left_click", coordinate=[round(x * 644 / 640), round(y * 364 / 360)])


class ScreensApp(EnvironmentBase):
    def __init__(self, tool: str = "computer_use", caret: bool = False) -> None:
        self.tool, self.caret, self.looks = tool, caret, 0
        self.screen, self.counter, self.dot = "A", 0, False
        self.events: list[dict[str, Any]] = []

    def reset(self) -> Observation:
        return self.observe()

    def observe(self) -> Observation:
        image = Image.new("RGB", (SIZE.width, SIZE.height), (240, 240, 240) if self.screen == "A" else (200, 220, 250))
        draw = ImageDraw.Draw(image)
        for name, box in BUTTONS.items():
            draw.rectangle(box, outline=(0, 0, 0), fill=(255, 255, 255))
            draw.text((box[0] + 8, box[1] + 8), name, fill=(0, 0, 0))
        draw.text((20, 120), f"screen {self.screen}", fill=(0, 0, 0))
        if self.counter:
            draw.rectangle([20, 300, 20 + 10 * self.counter, 320], fill=(0, 120, 0))
        if self.dot:
            draw.rectangle([600, 340, 601, 341], fill=(0, 0, 0))
        self.looks += 1
        if self.caret and self.looks % 2:  # a text caret that blinks between two looks
            draw.rectangle([300, 200, 301, 217], fill=(0, 0, 0))
        return Observation(image, SIZE)

    def execute(self, command: Command) -> StepResult:
        if command.name not in ("terminate", "answer"):
            self.events.append(command.action.to_json_dict())
        if command.point is not None:
            x, y = command.point.x, command.point.y
            for name, (x1, y1, x2, y2) in BUTTONS.items():
                if x1 <= x < x2 and y1 <= y < y2:
                    if name in ("A", "B"):
                        self.screen = name
                    elif name == "next":
                        self.counter += 1
                    else:
                        self.dot = not self.dot
        return StepResult()
