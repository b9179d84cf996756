"""Our `smart_resize` against the reference algorithm (qwen-vl-utils) and the HF processor's copy.

`qwen_vl_utils` needs torchvision, which has no CPU build here (reference §7), so the reference is a
verbatim copy of its `smart_resize`; when the package does import, it is used instead.
"""

from __future__ import annotations

import contextlib
import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as hf_smart_resize

from agent.geometry import smart_resize

IMAGE_FACTOR, MIN_PIXELS, MAX_PIXELS, MAX_RATIO = 28, 4 * 28 * 28, 16384 * 28 * 28, 200


# -- verbatim from qwen-vl-utils (vision_process.py) --------------------------------------------------
def round_by_factor(number: int, factor: int) -> int:
    return round(number / factor) * factor


def ceil_by_factor(number: int, factor: int) -> int:
    return math.ceil(number / factor) * factor


def floor_by_factor(number: int, factor: int) -> int:
    return math.floor(number / factor) * factor


def reference_smart_resize(
    height: int, width: int, factor: int = IMAGE_FACTOR, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {MAX_RATIO}, got {max(height, width) / min(height, width)}"
        )
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


with contextlib.suppress(ImportError):  # the real package, where torchvision exists
    from qwen_vl_utils import smart_resize as reference_smart_resize  # type: ignore[no-redef] # noqa: F811

MINS = st.sampled_from([4 * 784, 100 * 784, 256 * 784])
MAXES = st.sampled_from([256 * 784, 1280 * 784, 16384 * 784, 99_999_999])


@settings(max_examples=200, deadline=None)
@given(st.integers(15, 10_000), st.integers(15, 10_000), MINS, MAXES)
def test_agrees_with_reference_and_processor(height, width, min_pixels, max_pixels):
    assume(max(height, width) / min(height, width) <= MAX_RATIO and min_pixels < max_pixels)
    ours = smart_resize(height, width, min_pixels=min_pixels, max_pixels=max_pixels)
    assert ours == reference_smart_resize(height, width, 28, min_pixels, max_pixels)
    assert ours == hf_smart_resize(height, width, 28, min_pixels=min_pixels, max_pixels=max_pixels)


@settings(max_examples=200, deadline=None)
@given(st.integers(15, 10_000), st.integers(15, 10_000), MINS, MAXES)
def test_result_is_a_fixed_point_within_limits(height, width, min_pixels, max_pixels):
    """Multiples of 28, area within the limits, and resizing again changes nothing (no double resize).

    Ratios near 200 are left out: rounding can push them past 200 (29x5615 -> 28x5628), and then
    both implementations refuse the resized image.
    """
    assume(max(height, width) / min(height, width) <= 100 and min_pixels < max_pixels)
    h, w = smart_resize(height, width, min_pixels=min_pixels, max_pixels=max_pixels)
    assert h % 28 == 0 and w % 28 == 0 and h >= 28 and w >= 28
    assert min_pixels <= h * w <= max_pixels
    assert smart_resize(h, w, min_pixels=min_pixels, max_pixels=max_pixels) == (h, w)
    assert hf_smart_resize(h, w, 28, min_pixels=min_pixels, max_pixels=max_pixels) == (h, w)


def test_known_divergences_on_slivers():
    """Sides under 15 px: the processor rounds 14 to 0 and re-scales; ours keeps one 28 block."""
    assert smart_resize(2072, 14) == (2072, 28)
    assert hf_smart_resize(2072, 14, 28, min_pixels=MIN_PIXELS, max_pixels=1280 * 784) != (2072, 28)
