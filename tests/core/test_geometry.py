"""smart_resize against the reference algorithm, and the model/screen mapping's properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agent.errors import OutOfRangeError
from agent.geometry import MAX_PIXELS, Geometry, ModelPoint, ScreenPoint, Size, smart_resize


def reference_smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=14 * 14 * 4 * 1280):
    """qwen_vl_utils.smart_resize, verbatim in behaviour (qwen-vl-utils cannot import here: no torchvision)."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError("ratio")
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


@pytest.mark.parametrize(("size", "max_pixels", "expected"), [
    ((1920, 1080), 16384 * 28 * 28, (1932, 1092)),
    ((1920, 1080), 1280 * 28 * 28, (1316, 728)),
    ((1080, 2400), 16384 * 28 * 28, (1092, 2408)),
    ((1280, 720), 16384 * 28 * 28, (1288, 728)),
])
def test_documented_sizes(size, max_pixels, expected) -> None:
    h, w = smart_resize(size[1], size[0], max_pixels=max_pixels)
    assert (w, h) == expected


def test_qwen_vl_utils_agrees_when_it_imports() -> None:
    try:
        from qwen_vl_utils import smart_resize as theirs  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - it needs torchvision, which has no CPU build here
        theirs = reference_smart_resize
    for h, w in [(1080, 1920), (2400, 1080), (37, 4000), (28, 28), (100, 100), (3000, 5000)]:
        assert smart_resize(h, w, min_pixels=3136, max_pixels=MAX_PIXELS) == theirs(h, w, 28, 3136, MAX_PIXELS)


@settings(max_examples=500)
@given(st.integers(1, 8000), st.integers(1, 8000), st.integers(4, 2000), st.integers(1, 20000))
def test_smart_resize_matches_reference(h: int, w: int, lo: int, hi: int) -> None:
    assume(max(h, w) / min(h, w) <= 200)
    min_pixels, max_pixels = lo * 28 * 28 // 4, max(lo * 28 * 28 // 4, hi * 28 * 28 // 4)
    ours = smart_resize(h, w, min_pixels=min_pixels, max_pixels=max_pixels)
    assert ours == reference_smart_resize(h, w, 28, min_pixels, max_pixels)
    assert ours[0] % 28 == 0 and ours[1] % 28 == 0


def test_extreme_aspect_ratio_is_refused() -> None:
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 2500)


SIZES = st.builds(Size, st.integers(50, 4000), st.integers(50, 4000))
SCALES = st.sampled_from([1.0, 1.25, 1.5, 2.0, 3.0])


@settings(max_examples=300)
@given(SIZES, SCALES, st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True))
def test_model_screen_round_trip(size: Size, scale: float, fx: float, fy: float) -> None:
    assume(max(size.width, size.height) / min(size.width, size.height) < 150)
    shot = Size(max(1, round(size.width * scale)), max(1, round(size.height * scale)))
    g = Geometry.for_screenshot(shot, size)
    model = ModelPoint(fx * g.model.width, fy * g.model.height)
    screen = g.to_screen(model)
    assert g.input.contains(screen.x, screen.y)
    back = g.to_model(screen)
    assert math.isclose(back.x, model.x, abs_tol=1e-6) and math.isclose(back.y, model.y, abs_tol=1e-6)
    px, py = screen.pixel()
    assert 0 <= px < size.width and 0 <= py < size.height


def test_mapping_is_per_axis_not_one_scale() -> None:
    # 1920x1080 -> 1316x728: x scales by 1.4590, y by 1.4835; one factor would miss by ~18 px at the bottom.
    g = Geometry.for_screenshot(Size(1920, 1080))
    assert g.model == Size(1316, 728)
    bottom_right = g.to_screen(ModelPoint(1315, 727))
    assert bottom_right.x == pytest.approx(1315 * 1920 / 1316)
    assert bottom_right.y == pytest.approx(727 * 1080 / 728)


def test_hidpi_input_space_and_origin() -> None:
    g = Geometry.for_screenshot(Size(2560, 1440), Size(1280, 720), origin=(1920, 0))
    p = g.to_screen(ModelPoint(g.model.width / 2, g.model.height / 2))
    assert (p.x, p.y) == (1920 + 640, 360)
    assert g.to_model(p) == ModelPoint(g.model.width / 2, g.model.height / 2)


@pytest.mark.parametrize("point", [ModelPoint(-1, 5), ModelPoint(5, -0.1), ModelPoint(1316, 5), ModelPoint(5, 728)])
def test_model_points_outside_are_rejected(point: ModelPoint) -> None:
    g = Geometry.for_screenshot(Size(1920, 1080))
    with pytest.raises(OutOfRangeError, match="outside the screenshot, whose resolution is 1316x728"):
        g.to_screen(point)


@pytest.mark.parametrize("point", [ScreenPoint(-1, 0), ScreenPoint(1920, 0), ScreenPoint(0, 1080)])
def test_screen_points_outside_are_rejected(point: ScreenPoint) -> None:
    with pytest.raises(OutOfRangeError):
        Geometry.for_screenshot(Size(1920, 1080)).to_model(point)


def test_geometry_serialises() -> None:
    g = Geometry.for_screenshot(Size(2560, 1440), Size(1280, 720), origin=(5, 6))
    assert Geometry.from_dict(g.to_dict()) == g
    assert g.image_tokens == (g.model.width // 28) * (g.model.height // 28)


def test_size_parse() -> None:
    assert Size.parse("1280x720") == Size(1280, 720)
    with pytest.raises(ValueError, match="1280x720"):
        Size.parse("big")
