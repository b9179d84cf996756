"""Where a recorded step acted, in the observation's own space, and that drawn onto its screenshot.

A step records its points in input space (CSS px, X11 pixels, device pixels), absolute: a monitor that
does not start at (0, 0) adds its origin. A mark is the same point relative to the observation's
top-left, so it can be drawn over the screenshot scaled per axis (HiDPI screenshots have more pixels
than input space). `render_step` is the one function that draws a step: the HTML report draws the
same marks as SVG, `--confirm` and healed-step comparisons draw them into a PNG.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from agent.geometry import Geometry

CLICKS = ("left_click", "right_click", "middle_click", "double_click", "click", "long_press", "mouse_move")
COLOR = (230, 25, 75)
END_COLOR = (0, 130, 200)


@dataclass(frozen=True)
class Mark:
    """One thing to draw: ``kind`` is the action; ``start`` (and ``end`` for drags and swipes) are points
    in input space relative to the observation's top-left."""

    kind: str
    start: tuple[float, float]
    end: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": list(self.start), "end": list(self.end) if self.end else None}


def step_marks(step: dict[str, Any], cursor: tuple[float, float] | None = None) -> list[Mark]:
    """The marks of one recorded step. ``cursor`` (absolute input space) is where the pointer was before
    the step, for a drag that starts there or a click without a coordinate."""
    action = step.get("action") or {}
    name = action.get("action")
    points = step.get("screen_points") or {}
    origin = tuple((step.get("geometry") or {}).get("origin") or (0, 0))
    cursor = tuple((step.get("observation") or {}).get("cursor") or ()) or cursor

    def local(xy: Iterable[float] | None) -> tuple[float, float] | None:
        if not xy:
            return None
        x, y = xy
        return float(x) - origin[0], float(y) - origin[1]

    point, end, here = local(points.get("coordinate")), local(points.get("coordinate2")), local(cursor)
    if name == "left_click_drag" and point is not None:  # computer_use: from the cursor to the coordinate
        return [Mark("drag", here, point)] if here is not None else [Mark("drag", point)]
    if name == "swipe" and point is not None:
        return [Mark("swipe", point, end)]
    if name == "scroll" and (point or here) is not None:
        return [Mark("scroll", point or here)]
    if name in CLICKS and (point or here) is not None:
        return [Mark(name, point or here)]
    return []


def cursor_after(step: dict[str, Any], cursor: tuple[float, float] | None) -> tuple[float, float] | None:
    """Where the pointer is after ``step`` (absolute input space), as far as the recording tells."""
    points = step.get("screen_points") or {}
    last = points.get("coordinate2") or points.get("coordinate")
    return tuple(last) if last else cursor


def to_pixels(geometry: Geometry, xy: tuple[float, float]) -> tuple[float, float]:
    """A mark point in screenshot pixels (per axis: HiDPI, or a device whose input size is not its screen's)."""
    return (xy[0] * geometry.screenshot.width / geometry.input.width,
            xy[1] * geometry.screenshot.height / geometry.input.height)


def render_step(image: Image.Image, geometry: Geometry, marks: Iterable[Mark]) -> Image.Image:
    """A copy of ``image`` (the step's screenshot) with the step's marks drawn where they happened."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    scale = max(1.0, min(out.size) / 400)
    radius, width = round(9 * scale), max(2, round(2 * scale))
    for mark in marks:
        x, y = to_pixels(geometry, mark.start)
        if mark.end is not None:
            ex, ey = to_pixels(geometry, mark.end)
            draw.line([(x, y), (ex, ey)], fill=COLOR, width=width)
            draw.ellipse([ex - radius, ey - radius, ex + radius, ey + radius], outline=END_COLOR, width=width)
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=COLOR, width=width)
        draw.line([(x - radius * 1.6, y), (x + radius * 1.6, y)], fill=COLOR, width=max(1, width // 2))
        draw.line([(x, y - radius * 1.6), (x, y + radius * 1.6)], fill=COLOR, width=max(1, width // 2))
    return out
