"""Export ``mobile_use`` actions in AndroidWorld's action vocabulary (JSONAction, reference §6).

``to_androidworld`` maps one action with its input-space points; ``export_trajectory`` maps a recorded
run (``steps.jsonl``) so its episodes can be compared with, or replayed by, AndroidWorld tooling.
Actions with no counterpart (most ``key`` events, the Menu button) map to None.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.geometry import ScreenPoint

BUTTONS = {"Back": "navigate_back", "Home": "navigate_home", "Enter": "keyboard_enter"}
KEYS = {"KEYCODE_BACK": "navigate_back", "KEYCODE_HOME": "navigate_home", "KEYCODE_ENTER": "keyboard_enter"}


def to_androidworld(action: dict[str, Any], point: ScreenPoint | None = None,
                    end: ScreenPoint | None = None) -> dict[str, Any] | None:
    """One ``mobile_use`` action (its JSON arguments) → an AndroidWorld JSONAction dict, or None."""
    name = action["action"]
    if name in ("click", "long_press"):
        x, y = point.pixel()
        return {"action_type": name, "x": x, "y": y}
    if name == "swipe":
        (x1, y1), (x2, y2) = point.pixel(), end.pixel()
        dx, dy = x2 - x1, y2 - y1
        direction = ("right" if dx > 0 else "left") if abs(dx) > abs(dy) else ("down" if dy > 0 else "up")
        return {"action_type": "swipe", "direction": direction, "x": x1, "y": y1}
    if name == "type":
        return {"action_type": "input_text", "text": action["text"]}
    if name == "system_button":
        mapped = BUTTONS.get(action["button"])
        return {"action_type": mapped} if mapped else None
    if name == "key":
        from environments.android.commands import keycode

        try:
            mapped = KEYS.get(keycode(action["text"]))
        except Exception:  # noqa: BLE001 - an invalid key simply has no counterpart
            return None
        return {"action_type": mapped} if mapped else None
    if name == "open":
        return {"action_type": "open_app", "app_name": action["text"]}
    if name == "wait":
        return {"action_type": "wait"}
    if name == "terminate":
        return {"action_type": "status", "goal_status": "complete" if action["status"] == "success" else "infeasible"}
    if name == "answer":
        return {"action_type": "answer", "text": action["text"]}
    return None


def export_trajectory(path: str | Path) -> list[dict[str, Any] | None]:
    """The AndroidWorld actions of a recorded run, one per step (None where there is no counterpart)."""
    from agent.trajectory import Trajectory

    out = []
    for step in Trajectory.load(path).steps:
        if "action" not in step:
            out.append(None)
            continue
        points = {k: ScreenPoint(*v) for k, v in step.get("screen_points", {}).items()}
        out.append(to_androidworld(step["action"], points.get("coordinate"), points.get("coordinate2")))
    return out
