"""What every environment adapter is: a handful of verbs and three frozen value types.

The screen does not pause while the agent thinks (android_world's AsyncEnv says so plainly):
``observe()`` returns what is on screen now, ``execute()`` acts on it now.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from agent.geometry import ScreenPoint, Size
from agent.rects import Box, total_area

if TYPE_CHECKING:
    from PIL import Image

    from tools.base import Action



_frames = itertools.count(1)


def next_frame() -> int:
    """A frame id unique in this process, for `Observation.frame`."""
    return next(_frames)


@dataclass(frozen=True)
class Damage:
    """Where a screenshot may differ from an earlier one of the same environment.

    ``since`` is that earlier observation's ``frame``; every pixel outside ``boxes`` is identical to it.
    Consumers that did work on frame ``since`` (the model-space image, the trajectory's JPEG) redo only
    these regions. An environment that cannot tell (most) leaves ``Observation.damage`` None.
    """

    since: int
    boxes: tuple[Box, ...] = ()

    def area(self) -> int:
        """Pixels covered, counting overlaps twice (an upper bound)."""
        return total_area(self.boxes)


@dataclass(frozen=True)
class Observation:
    """One look at the screen.

    ``screenshot`` is in physical pixels; ``input_size`` is the space input is given in (CSS px, X11
    pixels, device pixels), which differs under HiDPI scaling; ``origin`` is where that space's (0, 0)
    lies in absolute input coordinates (multi-monitor). ``frame`` (from `next_frame`) and ``damage``
    let consumers update cached work incrementally; both are optional. The screenshot is never
    changed after it is handed out.
    """

    screenshot: Image.Image
    input_size: Size
    origin: tuple[int, int] = (0, 0)
    info: dict[str, Any] = field(default_factory=dict)
    frame: int | None = None
    damage: Damage | None = None

    @property
    def screenshot_size(self) -> Size:
        return Size(*self.screenshot.size)


@dataclass(frozen=True)
class Command:
    """A validated action with its points already mapped to input space.

    Environments read points from here, never from ``action.coordinate`` (which is in model space).
    ``scroll_pixels`` is the action's ``pixels`` mapped to input space along the y axis.
    """

    action: Action
    point: ScreenPoint | None = None
    end: ScreenPoint | None = None
    scroll_pixels: float | None = None

    @property
    def name(self) -> str:
        return self.action.action


@dataclass(frozen=True)
class StepResult:
    """What executing one command did. ``done`` ends the episode (task finished, recording exhausted, a
    wrapper stopped it). ``notes`` are told to the model with this step in its history (a denied action,
    a screen that did not change), so it can act on them."""

    done: bool = False
    outcome: Literal["success", "failure", "stuck", "stopped"] | None = None
    reason: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@runtime_checkable
class Environment(Protocol):
    """The adapter protocol. ``tool`` names the native tool the model should use on it."""

    tool: str

    def reset(self) -> Observation: ...

    def observe(self) -> Observation: ...

    def execute(self, command: Command) -> StepResult: ...

    def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What to record about this environment in ``run.json`` (kind, sizes, options)."""
        ...


class EnvironmentBase:
    """Optional base giving ``with``-support and a default ``describe``."""

    tool: str = "computer_use"

    @property
    def unwrapped(self) -> EnvironmentBase:
        """The adapter itself (a wrapper stack's ``unwrapped`` is the adapter at its bottom)."""
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - trivial default
        pass

    def describe(self) -> dict[str, Any]:
        return {"kind": type(self).__name__}
