"""Terminal summaries of a run: a rich table of the steps and the outcome."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.loop import EpisodeResult
from agent.trajectory import Trajectory

_STYLE = {"success": "bold green", "failure": "bold red", "step_limit": "bold yellow", "stuck": "bold yellow",
          "stopped": "bold yellow", "error": "bold red"}


def steps_table(trajectory: Trajectory, title: str = "") -> Table:
    table = Table(title=title or str(trajectory.path), show_lines=False)
    for column, justify in (("#", "right"), ("action", "left"), ("model point", "right"), ("screen point", "right"),
                            ("tries", "right"), ("model ms", "right"), ("exec ms", "right")):
        table.add_column(column, justify=justify)
    for step in trajectory.steps:
        action = dict(step.get("action") or {})
        name = action.pop("action", "—")
        action.pop("coordinate", None)
        action.pop("coordinate2", None)
        detail = escape(f"{name} {json.dumps(action, ensure_ascii=False)}" if action else name)  # model text: no markup
        error = (step.get("attempts") or [{}])[-1].get("error")
        gate = ((step.get("result") or {}).get("info") or {}).get("gate") or {}
        if gate.get("decision") == "deny":
            detail = f"[red]denied[/] {detail}"
        timings = step.get("timings", {})
        table.add_row(
            str(step.get("index", "?")),
            detail if not error else f"[red]{escape(error[:60])}[/]",
            _point(step.get("model_points", {}).get("coordinate")),
            _point(step.get("screen_points", {}).get("coordinate")),
            str(len(step.get("attempts", []))),
            f"{timings.get('model', 0) * 1000:.0f}",
            f"{timings.get('execute', 0) * 1000:.0f}",
        )
    return table


def print_episode(out: Path, result: EpisodeResult, console: Console) -> None:
    """The steps table, then one line with the outcome and where the trajectory is."""
    console.print(steps_table(Trajectory.load(out)))
    style = _STYLE.get(result.outcome, "bold")
    answer = f" — answer: {result.answer!r}" if result.answer else ""
    console.print(f"[{style}]{result.outcome}[/] after {plural(result.steps, 'step')}: {escape(result.reason + answer)}")
    console.print(f"trajectory: {out}")


def plural(n: int, word: str) -> str:
    """``1 step``, ``3 steps``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _point(xy: list[float] | None) -> str:
    return "" if not xy else f"({xy[0]:.0f}, {xy[1]:.0f})"
