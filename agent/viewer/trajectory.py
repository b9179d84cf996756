"""The HTML report of one recorded run: every step's screenshot with where it acted, and what the model said.

The report is ``DIR/report.html`` beside the run's ``screenshots/`` (referenced relatively, so the folder
can be zipped and shared); it loads nothing from the network. Marks are SVG over the screenshot in the
observation's input space, so a click lands on the pixel it hit whatever the scale factor or monitor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.trajectory import Trajectory
from agent.viewer.marks import cursor_after, step_marks
from agent.viewer.templating import render

REPORT = "report.html"


def step_view(step: dict[str, Any], cursor: tuple[float, float] | None) -> dict[str, Any]:
    """What the template shows of one step."""
    geometry = step.get("geometry") or {}
    width, height = (geometry.get("input") or geometry.get("screenshot") or [1, 1])[:2]
    result = step.get("result") or {}
    info = dict(result.get("info") or {})
    timings = step.get("timings") or {}
    attempts = [
        {"raw": a.get("raw", ""), "feedback": a.get("feedback"), "error": a.get("error"),
         "action": json.dumps(a["action"], ensure_ascii=False) if a.get("action") else None}
        for a in step.get("attempts") or []
    ]
    errored = bool(attempts) and attempts[-1]["error"] is not None and not step.get("action")
    return {
        "index": step.get("index"),
        "screenshot": step.get("screenshot"),
        "width": width, "height": height,
        "geometry": geometry,
        "marks": [m.to_dict() for m in step_marks(step, cursor)],
        "action": step.get("action"),
        "action_json": json.dumps(step.get("action"), ensure_ascii=False) if step.get("action") else None,
        "summary": _summary(step.get("action")),
        "model_points": step.get("model_points") or {},
        "screen_points": step.get("screen_points") or {},
        "attempts": attempts,
        "errored": errored,
        "timings": {k: round(v * 1000, 1) for k, v in timings.items()},
        "total_ms": round(sum(timings.values()) * 1000, 1),
        "image_tokens": step.get("image_tokens"),
        "observation": step.get("observation") or {},
        "result": result,
        "gate": info.pop("gate", None),
        "guard": info.pop("guard", None),
        "info": info,
    }


def write_trajectory_report(directory: str | Path, out: str | Path | None = None, *, back: str | None = None) -> Path:
    """Write the report of the run in ``directory`` (to ``DIR/report.html`` unless ``out``); returns its path."""
    trajectory = Trajectory.load(directory)
    out = Path(out) if out else trajectory.path / REPORT
    steps, cursor = [], None
    for step in trajectory.steps:
        steps.append(step_view(step, cursor))
        cursor = cursor_after(step, cursor)
    prefix = _relative(trajectory.path, out.parent)
    result = trajectory.result or {}
    seconds = sum(s["total_ms"] for s in steps) / 1000
    html = render("trajectory.html", run=trajectory.run, result=result, steps=steps, prefix=prefix,
                  torn=trajectory.torn, seconds=seconds, back=back, title=trajectory.run.get("instruction", ""),
                  tokens=sum(s["image_tokens"] or 0 for s in steps),
                  run_json=json.dumps(trajectory.run, indent=2, ensure_ascii=False))
    out.write_text(html, "utf-8")
    return out


def _summary(action: dict[str, Any] | None) -> str:
    if not action:
        return "no usable answer"
    rest = {k: v for k, v in action.items() if k not in ("action", "coordinate", "coordinate2")}
    return action.get("action", "?") + (" " + json.dumps(rest, ensure_ascii=False) if rest else "")


def _relative(target: Path, start: Path) -> str:
    import os

    rel = os.path.relpath(target.resolve(), start.resolve())
    return "" if rel == "." else rel.replace(os.sep, "/") + "/"
