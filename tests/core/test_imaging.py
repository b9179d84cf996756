"""The fast resize gives PIL's bicubic pixels (what qwen-vl-utils feeds the model), up to rounding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from agent.geometry import Geometry, Size
from agent.imaging import _torch_interpolate, to_model_image


def ui_like(size: Size) -> Image.Image:
    """Text, outlines and flat fills: what screenshots are made of."""
    image = Image.new("RGB", (size.width, size.height), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for y in range(0, size.height, 24):
        draw.text((10 + (y * 7) % 200, y), "Sign in  Settings  Notifications 0123456789 " * 3, fill=(20, 20, 20))
        draw.rectangle([300 + y % 100, y + 2, 500 + y % 100, y + 20], outline=(0, 90, 200))
    return image


def noise(size: Size) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (size.height, size.width, 3), dtype=np.uint8))


@pytest.mark.parametrize(("screen", "max_pixels"), [
    (Size(1920, 1080), 1280 * 28 * 28),  # down 1.46x / 1.48x
    (Size(1080, 2400), 1280 * 28 * 28),  # portrait phone, down 1.6x
    (Size(480, 630), 1280 * 28 * 28),  # MiniWoB at scale 3: a near-1 ratio, the hardest case
    (Size(60, 40), 1280 * 28 * 28),  # tiny: scaled up to min_pixels
    (Size(3840, 2160), 16384 * 28 * 28),  # 4K at the model's own limit
])
def test_fast_resize_matches_pil_bicubic(screen: Size, max_pixels: int) -> None:
    assert _torch_interpolate() is not None, "torch is part of the test install; the fast path must be exercised"
    model = Geometry.for_screenshot(screen, max_pixels=max_pixels).model
    for make, p999, mean in ((ui_like, 4, 0.1), (noise, 16, 0.6)):
        image = make(screen)
        fast = np.asarray(to_model_image(image, model), dtype=np.int16)
        reference = np.asarray(image.resize((model.width, model.height), Image.Resampling.BICUBIC), dtype=np.int16)
        assert fast.shape == reference.shape == (model.height, model.width, 3)
        diff = np.abs(fast - reference)
        assert np.percentile(diff, 99.9) <= p999 and diff.mean() < mean, (make.__name__, diff.max(), diff.mean())


def test_same_size_is_returned_untouched_and_rgba_is_converted() -> None:
    image = Image.new("RGBA", (56, 28), (1, 2, 3, 4))
    out = to_model_image(image, Size(56, 28))
    assert out.mode == "RGB" and out.getpixel((0, 0)) == (1, 2, 3)
