"""The ``computer_use`` tool: mouse and keyboard on a desktop or browser.

Every click (and scroll) takes an optional coordinate: the cookbook's schema says only ``mouse_move`` and
``left_click_drag`` do, but the model sends one with every click and the ScreenSpot-Pro harness prefills it
(reference §2). No coordinate means "at the current cursor". The schema shows it while the
``optional_coordinate`` extension is on; the validator accepts it either way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tools.base import Action, Answer, Coordinate, Terminate, Type, Wait, make_tool, optional_coordinate


class Key(Action):
    """Press the keys in order, then release them in reverse order (a key combination)."""

    action: Literal["key"]
    keys: list[str] = Field(min_length=1, description="The keys to press, e.g. [\"ctrl\", \"c\"].")


class MouseMove(Action):
    """Move the cursor to a point on the screen."""

    action: Literal["mouse_move"]
    coordinate: Coordinate


class LeftClick(Action):
    """Click the left mouse button.

    At the coordinate if given, else at the cursor.
    """

    action: Literal["left_click"]
    coordinate: Coordinate | None = optional_coordinate()


class LeftClickDrag(Action):
    """Press the left button at the cursor, drag to the coordinate and release."""

    action: Literal["left_click_drag"]
    coordinate: Coordinate


class RightClick(Action):
    """Click the right mouse button.

    At the coordinate if given, else at the cursor.
    """

    action: Literal["right_click"]
    coordinate: Coordinate | None = optional_coordinate()


class MiddleClick(Action):
    """Click the middle mouse button.

    At the coordinate if given, else at the cursor.
    """

    action: Literal["middle_click"]
    coordinate: Coordinate | None = optional_coordinate()


class DoubleClick(Action):
    """Double-click the left mouse button.

    At the coordinate if given, else at the cursor.
    """

    action: Literal["double_click"]
    coordinate: Coordinate | None = optional_coordinate()


class Scroll(Action):
    """Turn the mouse wheel.

    At the cursor, or at the coordinate if given.
    """

    action: Literal["scroll"]
    pixels: float = Field(description="How far to scroll: positive scrolls up, negative scrolls down.")
    coordinate: Coordinate | None = optional_coordinate()


CLICKS = (LeftClick, RightClick, MiddleClick, DoubleClick)

COMPUTER_USE = make_tool(
    "computer_use",
    (Key, Type, MouseMove, LeftClick, LeftClickDrag, RightClick, MiddleClick, DoubleClick, Scroll, Wait,
     Terminate, Answer),
    ("keys", "text", "coordinate", "pixels", "time", "status"),
)
