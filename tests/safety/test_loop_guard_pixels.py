"""What the loop guard's cheap pixel check (column runs, then full-size pixels where they differ) is
guaranteed to see, checked against the exact whole-screen rule it replaced, and its one documented limit."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw

from agent.geometry import ScreenPoint, Size
from environments.base import Command, EnvironmentBase, Observation, StepResult
from environments.safety import LoopGuard
from environments.safety.loop_guard import CHANGED_PIXELS, PIXEL_LEVEL, run_length
from tools import get_tool

WIDTH, HEIGHT = 1792, 96  # run_length(1792) == 7, as at 1920 px; short, so each example is fast
CLICK = Command(get_tool("computer_use").validate({"action": "left_click", "coordinate": [5, 5]}), ScreenPoint(5, 5))


class TwoScreens(EnvironmentBase):
    """Shows ``first`` until an action, then ``second`` (each look a fresh copy, as a real capture is)."""

    def __init__(self, first: Image.Image, second: Image.Image) -> None:
        self.first, self.second, self.acted = first, second, False

    def reset(self) -> Observation:
        self.acted = False
        return self.observe()

    def observe(self) -> Observation:
        image = self.second if self.acted else self.first
        return Observation(image.copy(), Size(*image.size))

    def execute(self, command: Command) -> StepResult:
        self.acted = True
        return StepResult()


def guard_sees(first: Image.Image, change: Callable[[ImageDraw.ImageDraw], None]) -> bool:
    second = first.copy()
    change(ImageDraw.Draw(second))
    guard = LoopGuard(TwoScreens(first, second))
    guard.reset()
    return guard.execute(CLICK).info["guard"]["changed"]


def exact_rule(first: Image.Image, change: Callable[[ImageDraw.ImageDraw], None]) -> bool:
    """The whole-screen rule the guard used before: CHANGED_PIXELS channel samples off by PIXEL_LEVEL."""
    second = first.copy()
    change(ImageDraw.Draw(second))
    histogram = ImageChops.difference(first, second).histogram()
    return sum(sum(histogram[c * 256 + PIXEL_LEVEL:(c + 1) * 256]) for c in range(3)) >= CHANGED_PIXELS


def page(colour: tuple[int, int, int] = (240, 240, 240)) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), colour)
    ImageDraw.Draw(image).text((10, 60), "a line of text that stays where it is " * 4, fill=(30, 30, 30))
    return image


def test_run_length_follows_the_width_and_stays_below_the_visible_level() -> None:
    assert [run_length(w) for w in (320, 640, 1280, 1920, 3840, 7680)] == [1, 2, 5, 7, 15, 16]
    assert run_length(10_000) <= PIXEL_LEVEL  # one pixel changing by PIXEL_LEVEL always moves its run's mean


colours = st.tuples(*[st.integers(0, 255)] * 3)


@settings(max_examples=60, deadline=None)
@given(background=colours, ink=colours, x=st.integers(0, WIDTH - 1), y=st.integers(0, 40),
       w=st.integers(1, 40), h=st.integers(1, 20))
def test_a_solid_mark_on_a_plain_area_is_judged_exactly_as_the_whole_screen_rule(background, ink, x, y, w, h) -> None:
    """A caret, a tick, a focus ring or a button drawn on a plain area: the cheap check agrees with the exact
    one, both ways (faint marks, under PIXEL_LEVEL, are "unchanged" by both)."""
    def change(draw: ImageDraw.ImageDraw) -> None:
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=ink)

    first = page(background)
    assert guard_sees(first, change) == exact_rule(first, change)


@settings(max_examples=40, deadline=None)
@given(x=st.integers(0, WIDTH - 8), dx=st.integers(1, 6), y=st.integers(0, 40))
def test_a_one_pixel_caret_moving_sideways_by_any_amount_is_a_change(x, dx, y) -> None:
    first = page()
    ImageDraw.Draw(first).line([(x, y), (x, y + 16)], fill=(0, 0, 0))

    def move(draw: ImageDraw.ImageDraw) -> None:
        draw.line([(x, y), (x, y + 16)], fill=(240, 240, 240))
        draw.line([(x + dx, y), (x + dx, y + 16)], fill=(0, 0, 0))

    assert guard_sees(first, move)


def test_one_pixel_focus_ring_and_single_pixels() -> None:
    first = page()
    assert guard_sees(first, lambda d: d.rectangle([100, 10, 180, 40], outline=(0, 90, 200)))  # a 1-px ring
    assert guard_sees(first, lambda d: d.point([(300, 5), (301, 5)], fill=(0, 0, 0)))  # two pixels, six samples
    assert not guard_sees(first, lambda d: d.point([(300, 5)], fill=(0, 0, 0)))  # one: three samples, noise
    assert not guard_sees(first, lambda d: d.rectangle([0, 0, 500, 50], fill=(230, 230, 230)))  # faint: not visible


def test_the_documented_blind_spot_and_where_it_ends() -> None:
    """A 1-px horizontal line moved down inside its run of 7 rows cancels in every column run: missed, as the
    module says. Moved across a run boundary, or a line that appears or thickens, it is seen."""
    first = page()
    ImageDraw.Draw(first).line([(100, 14), (400, 14)], fill=(0, 0, 0))  # rows 14..20 are one run

    def move_to(row: int) -> Callable[[ImageDraw.ImageDraw], None]:
        def change(draw: ImageDraw.ImageDraw) -> None:
            draw.line([(100, 14), (400, 14)], fill=(240, 240, 240))
            draw.line([(100, row), (400, row)], fill=(0, 0, 0))
        return change

    assert exact_rule(first, move_to(16)) and not guard_sees(first, move_to(16))
    assert guard_sees(first, move_to(21))  # the next run
    assert guard_sees(first, lambda d: d.line([(100, 15), (400, 15)], fill=(0, 0, 0)))
