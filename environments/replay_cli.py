"""``--env replay --from DIR``: a new model answers on a recorded session's screenshots, scored per step.

The score (matched steps, step accuracy, each step's verdict: expected vs got) is printed and kept in
``result.json`` however the run ends (done, step limit, an error); the exit code says whether the step
accuracy reached ``--min-accuracy``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError
from agent.exits import Exit, for_outcome
from environments.replay import DEFAULT_MIN_ACCURACY, DEFAULT_RADIUS, ReplayEvaluation

if TYPE_CHECKING:
    from rich.console import Console

    from agent.loop import EpisodeResult
    from agent.trajectory import Recorder


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--from", dest="replay_from", metavar="DIR", help="recorded session to evaluate on (--env replay)")
    group.add_argument("--radius", type=_fraction, default=DEFAULT_RADIUS,
                       help="a click with no recorded target box counts within this normalised distance (default 0.14)")
    group.add_argument("--min-accuracy", type=_fraction, default=DEFAULT_MIN_ACCURACY,
                       help="--env replay exits 0 when at least this share of the recorded steps is matched "
                            "(default 1.0: every step)")


def from_args(args: argparse.Namespace) -> ReplayEvaluation:
    if not args.replay_from:
        raise ConfigError("--env replay needs --from DIR: a recorded session directory (one with run.json)")
    if not (Path(args.replay_from) / "run.json").is_file():
        raise ConfigError(f"{args.replay_from} is not a recorded session: it has no run.json")
    try:
        return ReplayEvaluation(args.replay_from, radius=args.radius, min_accuracy=args.min_accuracy)
    except Exception as exc:  # noqa: BLE001 - an unreadable or empty recording is the user's input
        raise ConfigError(f"cannot evaluate on {args.replay_from}: {exc}") from None


class ScoreRecorder:
    """Passes everything to ``recorder`` and adds the evaluation's score to ``result.json``, however the run ended."""

    def __init__(self, recorder: Recorder, evaluation: ReplayEvaluation) -> None:
        self.recorder, self.evaluation = recorder, evaluation

    def start(self, run: dict[str, Any]) -> None:
        self.recorder.start(run)

    def save_screenshot(self, *args: Any, **kwargs: Any) -> str | None:
        return self.recorder.save_screenshot(*args, **kwargs)

    def append_step(self, record: dict[str, Any]) -> None:
        self.recorder.append_step(record)

    def finish(self, result: dict[str, Any]) -> None:
        self.recorder.finish(result | {"info": (result.get("info") or {}) | self.evaluation.summary()})


def wrap_recorder(env: ReplayEvaluation, recorder: Recorder) -> Recorder:
    return ScoreRecorder(recorder, env)


def report(env: ReplayEvaluation, result: EpisodeResult, console: Console) -> int:
    """Per-step verdicts and the score; exit 0 iff the step accuracy reached --min-accuracy, 1 below it, 3 when
    the run ended in an error (`agent.exits`)."""
    from rich.table import Table

    table = Table(title="replay evaluation: each recorded step")
    for column in ("step", "verdict", "expected", "got"):
        table.add_column(column)
    scored = {s["step"]: s for s in env.scores}
    for step in env.steps:
        s = scored.get(step["index"])
        verdict = "[dim]not reached[/]" if s is None else ("[green]match[/]" if s["match"] else f"[red]{s['why']}[/]")
        table.add_row(str(step["index"]), verdict, _short(step["action"]), "" if s is None else _short(s["got"]))
    console.print(table)
    passed = env.passed and result.outcome != "error"
    style = "bold green" if passed else "bold red"
    console.print(f"[{style}]score: {env.summary_text()} — {'passed' if passed else 'not passed'}[/]"
                  + ("" if result.outcome != "error" else f" (the run ended in an error: {result.reason})"))
    if result.outcome == "error":
        return for_outcome(result.outcome)  # infrastructure: the score could not be finished
    return Exit.OK if passed else Exit.NOT_DONE


def _short(action: dict[str, Any]) -> str:
    text = json.dumps(action, ensure_ascii=False)
    return text if len(text) <= 70 else text[:67] + "..."
