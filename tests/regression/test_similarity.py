"""The perceptual similarity that decides replay or heal: identical, masked, moved, resized."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from agent.regression.similarity import Similarity, compare, target_box


def _screen(button_at: int = 300, label: str = "Sign in") -> Image.Image:
    image = Image.new("RGB", (1280, 720), (238, 241, 246))
    draw = ImageDraw.Draw(image)
    draw.rectangle((480, button_at, 800, button_at + 44), fill=(51, 85, 221))
    draw.text((590, button_at + 10), label, fill=(255, 255, 255), font=ImageFont.load_default(size=20))
    draw.text((40, 40), "Acme Workspace — a header that stays", fill=(20, 20, 20))
    return image


def test_identical_screens_are_one():
    s = compare(_screen(), _screen(), 1280)
    assert abs(s.screen - 1) < 1e-6 and s.target is None


def test_jpeg_noise_matches():
    import io

    buffer = io.BytesIO()
    _screen().save(buffer, "JPEG", quality=90)
    s = compare(_screen(), Image.open(buffer), 1280, target=(480, 300, 800, 344))
    assert s.matches() and s.screen > 0.98 and s.target > 0.95


def test_a_moved_button_drifts_at_its_target_but_not_screen_wide():
    s = compare(_screen(300), _screen(420), 1280, target=(480, 300, 800, 344))
    assert s.screen > 0.9 and s.target < 0.5 and not s.matches()


def test_a_renamed_label_drifts_at_its_target():
    s = compare(_screen(label="Sign in"), _screen(label="Log on now"), 1280, target=(480, 300, 800, 344))
    assert s.target < 0.9 and not s.matches()


def test_masks_hide_a_changing_region():
    a, b = _screen(), _screen()
    ImageDraw.Draw(b).rectangle((900, 600, 1279, 719), fill=(0, 0, 0))  # a clock, a toast
    assert compare(a, b, 1280).screen < compare(a, b, 1280, masks=[(900, 600, 1280, 720)]).screen
    assert compare(a, b, 1280, masks=[(900, 600, 1280, 720)]).screen > 0.999


def test_another_screen_size_is_another_screen():
    s = compare(_screen(), _screen().resize((1024, 768)), 1280, target=(0, 0, 10, 10))
    assert s == Similarity(0.0, 0.0)


def test_boxes_are_in_input_space_at_any_scale():
    """A 2x screenshot (HiDPI) with the same input space gives the same verdict."""
    a, b = _screen(300).resize((2560, 1440)), _screen(420).resize((2560, 1440))
    s = compare(a, b, 1280, target=(480, 300, 800, 344))
    assert s.target < 0.5


def test_target_box_falls_back_to_a_square_around_the_point():
    assert target_box({"screen_points": {"coordinate": [100, 50]}}) == (76, 26, 124, 74)
    step = {"screen_points": {"coordinate": [100, 50]}, "result": {"info": {"target_box": [90, 40, 200, 60]}}}
    assert target_box(step) == (90, 40, 200, 60)
    assert target_box({"screen_points": {}}) is None
    assert np.isfinite(compare(_screen(), _screen(), 1280, target=(-50, -50, 2000, 2000)).target)
