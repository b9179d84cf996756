"""`CanvasEnvironment`: a screen drawn with Pillow that records what was done to it.

No GUI behind it: it exists to test the pipeline itself (geometry at any size and HiDPI scale, the
loop, recording, the conformance check) and to benchmark the framework with nothing else in the way.
"""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageDraw

from agent.errors import ActionValidationError
from agent.geometry import ScreenPoint, Size
from environments.base import Command, EnvironmentBase, Observation, StepResult
from environments.conformance import TARGET_RGB, Box
from tools import get_tool


class CanvasEnvironment(EnvironmentBase):
    """A ``size`` input space shown as a ``size * scale`` screenshot (scale > 1: HiDPI)."""

    def __init__(self, size: Size | None = None, scale: float = 1.0, tool: str = "computer_use") -> None:
        self.size, self.scale, self.tool = size or Size(1280, 720), scale, tool
        self.target: Box | None = None
        self.events: list[tuple[str, Any]] = []
        self.cursor = ScreenPoint(0, 0)
        self._frame: Image.Image | None = None

    # -- TargetDisplay ------------------------------------------------------------------------------
    def show_target(self, box: Box) -> None:
        self.target = box
        self._frame = None

    def last_click(self) -> ScreenPoint | None:
        clicks = [p for kind, p in self.events if kind.endswith("click")]
        return clicks[-1] if clicks else None

    # -- Environment --------------------------------------------------------------------------------
    def reset(self) -> Observation:
        self.events.clear()
        return self.observe()

    def observe(self) -> Observation:
        if self._frame is None:
            self._frame = self._draw()
        return Observation(self._frame, self.size, info={"cursor": [self.cursor.x, self.cursor.y]})

    def execute(self, command: Command) -> StepResult:
        if command.name not in get_tool(self.tool).action_names:
            raise ActionValidationError(f"the action {command.name!r} is not available on this {self.tool} canvas")
        if command.point is not None:
            self.cursor = command.point
        if command.name in ("left_click", "right_click", "middle_click", "double_click", "click", "long_press"):
            self.events.append((command.name, self.cursor))
        elif command.name in ("left_click_drag", "swipe"):
            self.events.append((command.name, (command.point, command.end)))
        elif command.name in ("type", "key", "open", "system_button"):
            self.events.append((command.name, command.action.to_json_dict()))
        elif command.name == "scroll":
            self.events.append(("scroll", command.scroll_pixels))
        return StepResult(info=self._target_info())

    def describe(self) -> dict[str, Any]:
        return {"kind": "canvas", "size": str(self.size), "scale": self.scale}

    def _target_info(self) -> dict[str, Any]:
        return {"target_box": list(self.target)} if self.target else {}

    def _draw(self) -> Image.Image:
        width, height = round(self.size.width * self.scale), round(self.size.height * self.scale)
        image = Image.new("RGB", (width, height), (236, 239, 244))
        draw = ImageDraw.Draw(image)
        for x in range(0, width, max(1, round(160 * self.scale))):  # some structure, like a real UI
            draw.rectangle([x + 8, 8, x + round(140 * self.scale), round(40 * self.scale)], fill=(200, 205, 215))
        if self.target:
            x1, y1, x2, y2 = (round(v * self.scale) for v in self.target)
            draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=TARGET_RGB)
        return image
