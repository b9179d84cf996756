"""The fast resize gives PIL's bicubic pixels (what qwen-vl-utils feeds the model), up to rounding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from agent.geometry import Geometry, Size
from agent.imaging import ModelImageCache, _torch_interpolate, damaged_rects, to_model_image
from environments.base import Damage, next_frame


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


# --- incremental model images -------------------------------------------------------------------------

SCREEN = Size(1920, 1080)
MODEL = Geometry.for_screenshot(SCREEN).model  # 1316x728


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def random_rect(rng: np.random.Generator, width: int, height: int) -> tuple[int, int, int, int]:
    """A rectangle that touches an image edge about half the time on each side."""
    x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
    x1, y1 = int(rng.integers(x0 + 1, width + 1)), int(rng.integers(y0 + 1, height + 1))
    return (0 if rng.random() < 0.3 else x0, 0 if rng.random() < 0.3 else y0,
            width if rng.random() < 0.3 else x1, height if rng.random() < 0.3 else y1)


def patch(image: Image.Image, out: Size, rect: tuple[int, int, int, int]) -> Image.Image:
    x0, y0, x1, y1 = rect
    sx, sy = image.width / out.width, image.height / out.height
    return image.resize((x1 - x0, y1 - y0), Image.Resampling.BICUBIC, box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy))


def test_pillow_box_keeps_the_global_grid_exactly_where_the_box_is_exact() -> None:
    """At 2x every box edge is an integer: the patch IS that region of the full resize, edges included.

    A box taken as its own little image (support clipped at the box, or the grid restarted there) would
    differ by tens of levels next to the UI's edges and text.
    """
    for make in (ui_like, noise):
        image, out = make(SCREEN), Size(960, 540)
        full = pixels(image.resize((out.width, out.height), Image.Resampling.BICUBIC))
        rng = np.random.default_rng(1)
        for rect in [(0, 0, 960, 540), (0, 0, 1, 1), (959, 539, 960, 540)] + [random_rect(rng, 960, 540) for _ in range(40)]:
            x0, y0, x1, y1 = rect
            assert np.array_equal(pixels(patch(image, out, rect)), full[y0:y1, x0:x1]), (make.__name__, rect)


def test_pillow_box_at_1080p_differs_only_by_float_rounding() -> None:
    """At 1920→1316 Pillow parses ``box`` as C floats, so weights shift by ~1e-4: ±2 levels on <1% of values."""
    for make in (ui_like, noise):
        image = make(SCREEN)
        full = pixels(image.resize((MODEL.width, MODEL.height), Image.Resampling.BICUBIC))
        rng = np.random.default_rng(2)
        for _ in range(40):
            x0, y0, x1, y1 = rect = random_rect(rng, MODEL.width, MODEL.height)
            diff = np.abs(pixels(patch(image, MODEL, rect)) - full[y0:y1, x0:x1])
            assert diff.max() <= 2 and (diff > 0).mean() < 0.01, (make.__name__, rect, diff.max(), (diff > 0).mean())


def support_windows(n_in: int, n_out: int) -> list[tuple[int, int]]:
    """Input columns each output column reads: Pillow's precompute_coeffs (torch's AA kernel agrees)."""
    scale = n_in / n_out
    support = 2.0 * max(scale, 1.0)
    return [(max(int((x + 0.5) * scale - support + 0.5), 0), min(int((x + 0.5) * scale + support + 0.5), n_in))
            for x in range(n_out)]


def touched(boxes, screen: Size, model: Size) -> np.ndarray:
    """Output pixels whose support window meets a box, by brute force."""
    mask = np.zeros((model.height, model.width), bool)
    cols, rows = support_windows(screen.width, model.width), support_windows(screen.height, model.height)
    for x0, y0, x1, y1 in boxes:
        xs = np.array([a < x1 and e > x0 for a, e in cols])
        ys = np.array([a < y1 and e > y0 for a, e in rows])
        mask |= ys[:, None] & xs[None, :]
    return mask


def inside(rects, model: Size) -> np.ndarray:
    mask = np.zeros((model.height, model.width), bool)
    for x0, y0, x1, y1 in rects:
        mask[y0:y1, x0:x1] = True
    return mask


sizes = st.builds(Size, st.integers(8, 2000), st.integers(8, 1200))


@settings(max_examples=150, deadline=None)
@given(screen=sizes, model=sizes, data=st.data())
def test_damaged_rects_cover_every_pixel_whose_support_is_touched(screen: Size, model: Size, data) -> None:
    def box():
        x0, y0 = data.draw(st.integers(-5, screen.width - 1)), data.draw(st.integers(-5, screen.height - 1))
        return x0, y0, data.draw(st.integers(x0 + 1, screen.width + 5)), data.draw(st.integers(y0 + 1, screen.height + 5))
    boxes = [box() for _ in range(data.draw(st.integers(0, 20)))]
    rects = damaged_rects(boxes, screen, model)
    assert all(0 <= x0 < x1 <= model.width and 0 <= y0 < y1 <= model.height for x0, y0, x1, y1 in rects)
    covered = inside(rects, model)
    assert not (touched(boxes, screen, model) & ~covered).any()
    if boxes and len(boxes) <= 16:  # merged generously, but not into the whole image for one small box
        alone = sum(inside(damaged_rects([b], screen, model), model).sum() for b in boxes)
        assert covered.sum() <= alone + 1024 * (len(boxes) - 1)


def change(image: Image.Image, box: tuple[int, int, int, int], seed: int) -> Image.Image:
    """A new screenshot: ``box`` repainted with a small window of text, everything else identical."""
    x0, y0, x1, y1 = box
    window = Image.new("RGB", (x1 - x0, y1 - y0), tuple(int(v) for v in np.random.default_rng(seed).integers(0, 256, 3)))
    draw = ImageDraw.Draw(window)
    for y in range(0, y1 - y0 - 10, 14):
        draw.text((2, y), f"Saved {seed} items  OK  Cancel", fill=(0, 0, 0))
    out = image.copy()
    out.paste(window, (x0, y0))  # clipped to the box: the damage must hold every changed pixel
    return out


def assert_close_to_full(image: Image.Image, screenshot: Image.Image) -> None:
    """The incremental image is a full resize of the new screenshot, within the torch-vs-PIL tolerance."""
    for reference in (to_model_image(screenshot, MODEL),
                      screenshot.resize((MODEL.width, MODEL.height), Image.Resampling.BICUBIC)):
        diff = np.abs(pixels(image) - pixels(reference))
        assert np.percentile(diff, 99.9) <= 4 and diff.mean() < 0.1, (diff.max(), diff.mean())


def test_incremental_images_track_the_screen_and_never_change_images_handed_out() -> None:
    rng = np.random.default_rng(3)
    cache, screenshot, frame = ModelImageCache(), ui_like(SCREEN), next_frame()
    first = cache.model_image(screenshot, MODEL, frame)
    assert cache.last == "full"
    handed_out = [(first, pixels(first))]
    for step in range(12):
        w, h = (int(rng.integers(1, 400)), int(rng.integers(1, 200)))
        x, y = int(rng.integers(-50, SCREEN.width - w + 50)), int(rng.integers(-50, SCREEN.height - h + 50))
        boxes = ((x, y, x + w, y + h),) if step % 3 else ((x, y, x + w, y + h), (0, 0, 30, 20), (1890, 1060, 1920, 1080))
        clipped = [(max(x0, 0), max(y0, 0), min(x1, 1920), min(y1, 1080)) for x0, y0, x1, y1 in boxes]
        clipped = [(x0, y0, x1, y1) for x0, y0, x1, y1 in clipped if x0 < x1 and y0 < y1]
        new = screenshot
        for i, box in enumerate(clipped):
            new = change(new, box, step * 10 + i)
        previous, since, frame = pixels(handed_out[-1][0]), frame, next_frame()
        image = cache.model_image(new, MODEL, frame, Damage(since, boxes))
        assert (cache.last, image is handed_out[-1][0]) == (("patch", False) if clipped else ("reuse", True))
        assert_close_to_full(image, new)
        untouched = ~inside(damaged_rects(boxes, SCREEN, MODEL), MODEL)
        assert untouched.mean() > 0.5 and np.array_equal(pixels(image)[untouched], previous[untouched])
        assert not touched(clipped, SCREEN, MODEL)[untouched].any()
        handed_out.append((image, pixels(image)))
        screenshot = new
    for image, snapshot in handed_out:
        assert np.array_equal(pixels(image), snapshot), "an image handed out was changed"


def test_full_resize_whenever_the_damage_cannot_be_used() -> None:
    cache, screenshot = ModelImageCache(), ui_like(SCREEN)
    frame = next_frame()
    first = cache.model_image(screenshot, MODEL, frame)
    small = ((100, 100, 300, 140),)
    cases = [
        ("same frame again", screenshot, MODEL, frame, None, "reuse"),
        ("no damage", change(screenshot, small[0], 1), MODEL, next_frame(), None, "full"),
        ("unknown frame", change(screenshot, small[0], 2), MODEL, next_frame(), Damage(-1, small), "full"),
        ("no frame id", screenshot, MODEL, None, None, "full"),
        # the previous call cached an image without a frame id: no damage can be "since" it
        ("cache has no frame id", change(screenshot, small[0], 3), MODEL, next_frame(), Damage(0, small), "full"),
    ]
    for name, shot, size, frame, damage, how in cases:
        image = cache.model_image(shot, size, frame, damage)
        assert cache.last == how, name
        assert_close_to_full(image, shot)
    # a different model size or screenshot size, with damage that names the cached frame
    frame = next_frame()
    cache.model_image(screenshot, MODEL, frame)
    other = Size(1288, 728)
    assert cache.model_image(screenshot, other, next_frame(), Damage(frame, small)).size == (1288, 728)
    assert cache.last == "full"
    frame = next_frame()
    cache.model_image(screenshot, MODEL, frame)
    smaller = ui_like(Size(1280, 720))
    assert_close_to_full(cache.model_image(smaller, MODEL, next_frame(), Damage(frame, small)), smaller)
    assert cache.last == "full"
    # large damage: patching would cost more than the full resize
    base = next_frame()
    cache.model_image(screenshot, MODEL, base)
    big = change(screenshot, (0, 0, 1920, 700), 4)
    assert_close_to_full(cache.model_image(big, MODEL, next_frame(), Damage(base, ((0, 0, 1920, 700),))), big)
    assert cache.last == "full"
    # no boxes: nothing changed, the cached image itself comes back (it is never mutated)
    frame = next_frame()
    same = cache.model_image(big, MODEL, frame)
    again = cache.model_image(big.copy(), MODEL, next_frame(), Damage(frame, ()))
    assert again is same and cache.last == "reuse"
    # damage entirely off-screen is no damage either
    frame = next_frame()
    same = cache.model_image(big, MODEL, frame)
    again = cache.model_image(big.copy(), MODEL, next_frame(), Damage(frame, ((2000, 0, 2100, 50),)))
    assert again is same and cache.last == "reuse"
    # a non-RGB screenshot is converted whole
    rgba = big.convert("RGBA")
    frame = next_frame()
    cache.model_image(rgba, MODEL, frame)
    out = cache.model_image(rgba, MODEL, next_frame(), Damage(frame, small))
    assert cache.last == "full" and out.mode == "RGB"
    assert first.size == (MODEL.width, MODEL.height)
