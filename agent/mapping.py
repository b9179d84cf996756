"""Turn a validated model-space action into an input-space `Command` (the loop's "map" arrow)."""

from __future__ import annotations

from agent.geometry import Geometry, ModelPoint
from environments.base import Command
from tools.base import Action


def to_command(action: Action, geometry: Geometry) -> Command:
    """Map every point of ``action`` through ``geometry.to_screen``; raises `OutOfRangeError`."""
    points = {name: geometry.to_screen(ModelPoint(*xy)) for name, xy in action.points().items()}
    pixels = getattr(action, "pixels", None)
    scroll = None if pixels is None else pixels * geometry.input.height / geometry.model.height
    return Command(action, points.get("coordinate"), points.get("coordinate2"), scroll)
