"""Screen geometry: the resize rule of Qwen2.5-VL and the one mapping between model and screen space.

Three sizes matter for every observation (reference §1): the screenshot's (physical pixels), the input
space's (where clicks go: CSS px, X11 pixels, device pixels) and the model's (the resized image the
model saw, multiples of 28). Points carry their space in their type, so the two cannot be mixed up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agent.errors import OutOfRangeError

FACTOR = 28
MIN_PIXELS = 4 * 28 * 28  # 3,136: the HF processor's default floor
MAX_PIXELS = 1280 * 28 * 28  # 1,003,520: the Qwen README's token-saving cap, transformers 5's default
MAX_RATIO = 200


def smart_resize(
    height: int,
    width: int,
    factor: int = FACTOR,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
) -> tuple[int, int]:
    """Return ``(height, width)`` the way Qwen2.5-VL's processor resizes an image.

    Both sides become multiples of ``factor``, the area lands in ``[min_pixels, max_pixels]`` and the
    aspect ratio is kept as far as the rounding allows. Agrees with ``qwen_vl_utils.smart_resize``.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(
            f"aspect ratio must be under {MAX_RATIO}, got {max(height, width) / min(height, width):.1f} "
            f"for {width}x{height}"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@dataclass(frozen=True)
class Size:
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"size must be positive, got {self.width}x{self.height}")

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    @classmethod
    def parse(cls, text: str) -> Size:
        """Parse ``"1280x720"``."""
        try:
            w, h = text.lower().split("x")
            return cls(int(w), int(h))
        except ValueError:
            raise ValueError(f"expected a size like 1280x720, got {text!r}") from None

    def contains(self, x: float, y: float) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height


@dataclass(frozen=True)
class ModelPoint:
    """A point in the resized image the model saw, in its pixels."""

    x: float
    y: float


@dataclass(frozen=True)
class ScreenPoint:
    """A point in the environment's input space (CSS px, X11 pixels, device pixels)."""

    x: float
    y: float

    def pixel(self) -> tuple[int, int]:
        """The integer pixel that contains this point (floor, so it never leaves the screen)."""
        return math.floor(self.x), math.floor(self.y)


@dataclass(frozen=True)
class Geometry:
    """The three sizes of one observation and the mapping between model and input space.

    ``origin`` is where the input space's (0, 0) lies in absolute input coordinates, for monitors that
    do not start at the top-left of a virtual screen.
    """

    screenshot: Size
    input: Size
    model: Size
    origin: tuple[int, int] = (0, 0)

    @classmethod
    def for_screenshot(
        cls,
        screenshot: Size,
        input: Size | None = None,
        *,
        min_pixels: int = MIN_PIXELS,
        max_pixels: int = MAX_PIXELS,
        origin: tuple[int, int] = (0, 0),
    ) -> Geometry:
        h, w = smart_resize(screenshot.height, screenshot.width, min_pixels=min_pixels, max_pixels=max_pixels)
        return cls(screenshot, input or screenshot, Size(w, h), origin)

    def to_screen(self, point: ModelPoint) -> ScreenPoint:
        """Map a model-space point to input space, per axis. Rejects points outside the model image."""
        if not self.model.contains(point.x, point.y):
            raise OutOfRangeError(
                f"coordinate [{_fmt(point.x)}, {_fmt(point.y)}] is outside the screenshot, whose "
                f"resolution is {self.model}; x must be in [0, {self.model.width}) and y in "
                f"[0, {self.model.height})"
            )
        return ScreenPoint(
            self.origin[0] + point.x * self.input.width / self.model.width,
            self.origin[1] + point.y * self.input.height / self.model.height,
        )

    def to_model(self, point: ScreenPoint) -> ModelPoint:
        """Map an input-space point to model space, per axis. Rejects points outside the screen."""
        x, y = point.x - self.origin[0], point.y - self.origin[1]
        if not self.input.contains(x, y):
            raise OutOfRangeError(f"screen point ({_fmt(point.x)}, {_fmt(point.y)}) is outside {self.input}")
        return ModelPoint(x * self.model.width / self.input.width, y * self.model.height / self.input.height)

    @property
    def image_tokens(self) -> int:
        """Image tokens the model spends on one screenshot: one per 28x28 block."""
        return (self.model.width // FACTOR) * (self.model.height // FACTOR)

    def to_dict(self) -> dict:
        return {
            "screenshot": [self.screenshot.width, self.screenshot.height],
            "input": [self.input.width, self.input.height],
            "model": [self.model.width, self.model.height],
            "origin": list(self.origin),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Geometry:
        return cls(Size(*data["screenshot"]), Size(*data["input"]), Size(*data["model"]), tuple(data["origin"]))


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"
