"""The ``mobile_use`` tool: a touchscreen device driven by taps, swipes, text and system buttons."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tools.base import Action, Answer, Coordinate, Terminate, Type, Wait, make_tool


class Key(Action):
    """Send an Android key event by name, e.g. volume_up."""

    action: Literal["key"]
    text: str = Field(min_length=1, description="The adb keyevent name, e.g. volume_up.")


class Click(Action):
    """Tap the point on the screen."""

    action: Literal["click"]
    coordinate: Coordinate


class LongPress(Action):
    """Touch and hold the point for some seconds."""

    action: Literal["long_press"]
    coordinate: Coordinate
    time: float = Field(default=2.0, gt=0, le=30, description="Seconds to hold.")


class Swipe(Action):
    """Swipe from the coordinate to coordinate2."""

    action: Literal["swipe"]
    coordinate: Coordinate
    coordinate2: Coordinate = Field(description="(x, y): where the swipe ends.")


class SystemButton(Action):
    """Press a system button."""

    action: Literal["system_button"]
    button: Literal["Back", "Home", "Menu", "Enter"] = Field(description="The button to press.")


class Open(Action):
    """Open an app by its name."""

    action: Literal["open"]
    text: str = Field(min_length=1, description="The name of the app to open.")


MOBILE_USE = make_tool(
    "mobile_use",
    (Key, Click, LongPress, Swipe, Type, SystemButton, Open, Wait, Terminate, Answer),
    ("coordinate", "coordinate2", "text", "time", "button", "status"),
)
