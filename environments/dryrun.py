"""``--dry-run`` for every environment: nothing is executed; each command is drawn on the screenshot it
would have acted on and recorded as what it would have done.

`DryRun` sits right above the adapter (see `environments.make`): the screen is still observed, but no
device verb reaches the adapter. ``terminate``/``answer``/``wait`` are the framework's and unaffected.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from agent.fonts import label_font
from environments.base import Command, Environment, Observation, StepResult
from environments.wrappers import Wrapper

RED, BLUE = (230, 30, 30), (30, 90, 230)


class DryRun(Wrapper):
    """Writes ``NNNN-<action>.png`` into ``directory`` for each command instead of carrying it out."""

    def __init__(self, env: Environment, directory: str | Path) -> None:
        super().__init__(env)
        self.directory = Path(directory)
        self.count = 0
        self._last: Observation | None = None

    def reset(self) -> Observation:
        self._last = self.env.reset()
        return self._last

    def observe(self) -> Observation:
        self._last = self.env.observe()
        return self._last

    def execute(self, command: Command) -> StepResult:
        self.count += 1
        last = self._last or self.env.observe()
        scale = (last.input_size.width / last.screenshot.width, last.input_size.height / last.screenshot.height)
        cursor = tuple(last.info.get("cursor") or (last.origin[0], last.origin[1]))
        image = draw_command(last.screenshot, command, last.origin, scale, cursor)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.count:04d}-{command.name}.png"
        image.save(path)
        return StepResult(info={"dry_run": str(path), "would": describe_command(command)})

    def describe(self) -> dict:
        return self.env.describe() | {"dry_run": str(self.directory)}


def draw_command(
    screenshot: Image.Image,
    command: Command,
    origin: tuple[int, int],
    scale: tuple[float, float],
    cursor: tuple[int, int],
) -> Image.Image:
    """A copy of ``screenshot`` with the command's points (input space) marked and the action written."""
    image = screenshot.convert("RGB").copy()
    draw = ImageDraw.Draw(image)

    def px(x: float, y: float) -> tuple[float, float]:
        return (x - origin[0]) / scale[0], (y - origin[1]) / scale[1]

    start = px(*cursor)
    point = px(command.point.x, command.point.y) if command.point else None
    if command.name == "left_click_drag" and point:
        draw.line([start, point], fill=BLUE, width=3)
        _ring(draw, start, BLUE)
    if command.name == "swipe" and point and command.end:
        end = px(command.end.x, command.end.y)
        draw.line([point, end], fill=BLUE, width=3)
        _ring(draw, end, BLUE)
    target = point or (start if command.name.endswith("click") or command.name == "scroll" else None)
    if target:
        _ring(draw, target, RED)
    label = describe_command(command)
    font = label_font(14)
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    where = target or (8, 8)
    x, y = max(4, min(where[0] + 14, image.width - (right - left) - 4)), max(4, where[1] - 24)
    draw.rectangle([x - 3, y - 2, x + right - left + 3, y + bottom - top + 2], fill=(255, 255, 255))
    draw.text((x - left, y - top), label, fill=RED, font=font)
    return image


def _ring(draw: ImageDraw.ImageDraw, centre: tuple[float, float], colour: tuple[int, int, int]) -> None:
    x, y = centre
    draw.ellipse([x - 10, y - 10, x + 10, y + 10], outline=colour, width=3)
    draw.line([x - 14, y, x + 14, y], fill=colour, width=1)
    draw.line([x, y - 14, x, y + 14], fill=colour, width=1)


def describe_command(command: Command) -> str:
    """What the command would do, in input-space pixels, e.g. ``left_click at (480, 270)``."""
    action = command.action
    where = f" at ({command.point.x:.0f}, {command.point.y:.0f})" if command.point else ""
    if command.name == "type":
        return f"type {action.text!r}"[:80]
    if command.name == "key":
        return "key " + "+".join(getattr(action, "keys", None) or [action.text])  # computer_use keys / mobile_use text
    if command.name == "scroll":
        return f"scroll {command.scroll_pixels or 0:+.0f} px{where}"
    if command.name == "left_click_drag":
        return f"drag from the cursor to{where[3:]}"
    if command.name == "swipe" and command.end:
        return f"swipe from ({command.point.x:.0f}, {command.point.y:.0f}) to ({command.end.x:.0f}, {command.end.y:.0f})"
    if command.name == "open":
        return f"open {action.text!r}"
    if command.name == "system_button":
        return f"press {action.button}"
    return command.name + where
