"""Is the live screen the one the recording saw? A perceptual similarity with masks and a threshold.

The measure is the mean structural similarity (SSIM, Wang et al. 2004: luminance, contrast and structure
compared in 7x7 windows, the constants of the paper, C1 = (0.01·255)², C2 = (0.03·255)²) of the two
screens in grayscale, reduced to at most ``WIDTH`` pixels wide. SSIM is 1 for identical images, stays
above ~0.99 for JPEG noise and a blinking caret, and drops where shapes move or text changes.
Two numbers decide a match:

- ``screen``: the mean over the whole screen minus the masks (clocks, toasts, ads);
- ``target``: the mean over the recorded action's target (its element box, or a ``TARGET_RADIUS`` square
  around the recorded point) — a renamed or moved button is a small part of a screen but all of its target.

A step matches when ``screen >= threshold`` and ``target >= target_threshold`` (defaults 0.90 / 0.90: a screen is the same screen
when its layout mostly agrees; the element acted on must agree closely).
Boxes are in input space (CSS px in the browser); they are scaled to the reduced images here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

WIDTH = 320  # reduced width: layout and text shapes survive, JPEG noise and sub-pixel antialiasing do not
WINDOW = 7
C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
DEFAULT_THRESHOLD = 0.90
DEFAULT_TARGET_THRESHOLD = 0.90
TARGET_RADIUS = 24  # input px around a recorded point when the recording has no element box

Box = tuple[float, float, float, float]  # left, top, right, bottom in input space


@dataclass(frozen=True)
class Similarity:
    """How alike two screens are; ``target`` is None when the step had no target."""

    screen: float
    target: float | None = None

    def matches(self, threshold: float = DEFAULT_THRESHOLD, target_threshold: float = DEFAULT_TARGET_THRESHOLD) -> bool:
        return self.screen >= threshold and (self.target is None or self.target >= target_threshold)

    def to_dict(self) -> dict[str, float | None]:
        return {"screen": round(self.screen, 4), "target": None if self.target is None else round(self.target, 4)}


def reduced(image: Image.Image) -> np.ndarray:
    """Grayscale float array about ``WIDTH`` wide: the screen box-averaged by a whole factor (a JPEG file
    not yet loaded decodes straight to that scale through its DCT, via draft)."""
    factor = max(1, -(-image.width // WIDTH))
    if factor > 1 and image.format == "JPEG" and getattr(image, "tile", None):
        image.draft("RGB", (-(-image.width // factor), -(-image.height // factor)))  # an unloaded file only
        factor = max(1, -(-image.width // WIDTH))
    small = image.reduce(factor) if factor > 1 else image
    return np.asarray(small.convert("L"), dtype=np.float32)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-window SSIM of two equal-sized grayscale arrays (box windows, valid region only)."""
    if a.shape != b.shape:
        raise ValueError(f"screens differ in size: {a.shape[::-1]} vs {b.shape[::-1]}")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b, aa, bb, ab = _box(np.stack((a64, b64, a64 * a64, b64 * b64, a64 * b64)))
    var_a, var_b, cov = aa - mu_a * mu_a, bb - mu_b * mu_b, ab - mu_a * mu_b
    return ((2 * mu_a * mu_b + C1) * (2 * cov + C2)) / ((mu_a**2 + mu_b**2 + C1) * (var_a + var_b + C2))


def compare(
    recorded: Image.Image | np.ndarray,
    live: Image.Image | np.ndarray,
    input_width: float,
    *,
    masks: list[Box] = (),
    target: Box | None = None,
) -> Similarity:
    """The similarity of ``live`` to ``recorded``; both screens of the same input space ``input_width`` wide."""
    a = recorded if isinstance(recorded, np.ndarray) else reduced(recorded)
    b = live if isinstance(live, np.ndarray) else reduced(live)
    if a.shape != b.shape:
        return Similarity(0.0, None if target is None else 0.0)  # another window size is another screen
    scores = ssim_map(a, b)
    scale = a.shape[1] / input_width
    keep = np.ones(scores.shape, dtype=bool)
    for box in masks:
        keep[_window_slice(box, scale, scores.shape)] = False
    screen = float(scores[keep].mean()) if keep.any() else 1.0
    if target is None:
        return Similarity(screen)
    region = scores[_window_slice(target, scale, scores.shape, inside=True)]
    return Similarity(screen, float(region.mean()) if region.size else screen)


def target_box(step: dict) -> Box | None:
    """The recorded action's target in input space: its element box, else a square around its point."""
    info = (step.get("result") or {}).get("info") or {}
    box = info.get("target_box")
    point = (step.get("screen_points") or {}).get("coordinate")
    if point is None:
        return None
    if box and box[2] - box[0] >= 4 and box[3] - box[1] >= 4 and box[2] - box[0] < 2000:
        return tuple(box)
    x, y = point
    return (x - TARGET_RADIUS, y - TARGET_RADIUS, x + TARGET_RADIUS, y + TARGET_RADIUS)


def _box(x: np.ndarray) -> np.ndarray:
    """Mean over every WINDOW x WINDOW window of each plane of ``x`` (integral images: O(pixels))."""
    planes, h, w = x.shape
    s = np.zeros((planes, h + 1, w + 1))
    np.cumsum(x, axis=1, out=s[:, 1:, 1:])
    np.cumsum(s[:, 1:, 1:], axis=2, out=s[:, 1:, 1:])
    k = WINDOW
    return (s[:, k:, k:] - s[:, :-k, k:] - s[:, k:, :-k] + s[:, :-k, :-k]) / (k * k)


def _window_slice(box: Box, scale: float, shape: tuple[int, int], *, inside: bool = False) -> tuple[slice, slice]:
    """The SSIM windows that read any pixel of ``box`` (input space) on the reduced image (a mask), or with
    ``inside`` those centred in it (a target: its own pixels, not the page around it)."""
    reach = WINDOW - 1 if not inside else WINDOW // 2  # window (i, j) reads rows i..i+6, columns j..j+6
    end = 0 if not inside else WINDOW // 2
    left, top, right, bottom = (v * scale for v in box)
    y0 = int(np.clip(np.floor(top) - reach, 0, shape[0] - 1))
    y1 = int(np.clip(np.ceil(bottom) - end, y0 + 1, shape[0]))
    x0 = int(np.clip(np.floor(left) - reach, 0, shape[1] - 1))
    x1 = int(np.clip(np.ceil(right) - end, x0 + 1, shape[1]))
    return slice(y0, y1), slice(x0, x1)
