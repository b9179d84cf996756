"""`SimTargetDisplay`: the conformance check's `TargetDisplay` for the simulated phone, over adb.

It uses the simulator's test-only ``sim`` shell command, so it goes through the same adb link as the
environment under test: ``sim target X1 Y1 X2 Y2`` paints the magenta square (input space) and
``sim last-tap`` reports where the last touch landed.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.geometry import ScreenPoint


class SimTargetDisplay:
    def __init__(self, shell: Callable[[str], str]) -> None:
        self.shell = shell

    def show_target(self, box: tuple[int, int, int, int]) -> None:
        self.shell("sim target {} {} {} {}".format(*box))

    def last_click(self) -> ScreenPoint | None:
        text = self.shell("sim last-tap").strip()
        if text == "none":
            return None
        x, y = text.split()
        return ScreenPoint(float(x), float(y))
