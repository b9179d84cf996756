"""The evaluation runner every suite shares: plan units, skip finished ones, run, record, summarise.

A suite (MiniWoB++, Android, ScreenSpot) supplies a list of `Unit` (task id, episode, seed) and a
callback that runs one unit and returns its result dict. The runner owns the rest, identically for all:

- ``OUT/results.jsonl``: one line per finished unit, appended and flushed (fsync'd) as soon as it ends,
  so an interrupted run loses at most the unit in flight (`tasks.results.ResultsLog`, shared with ScreenSpot:
  a torn last line is repaired before appending);
- ``OUT/<task>-<episode>/``: the unit's own directory (a trajectory), handed to the callback;
- resume: units already in ``results.jsonl`` are skipped; a directory left by an earlier attempt (an
  interrupted unit, or an error being retried) is kept, renamed ``<dir>.attempt-N``, and the unit runs again;
- ``OUT/eval.json``: the options of the latest start; resuming with ones that change results is refused,
  so one results file never mixes two models (where the server is, or how many workers ask it, may change);
- a rich progress bar while running and a per-task table at the end.

Result dicts use these keys when they apply (the table reads them; anything else is kept verbatim):
``outcome`` ("success" | "failure" | "step_limit" | "error"), ``success`` (bool), ``reward`` (float),
``steps`` (int), ``reason`` (str). The runner adds ``task``, ``episode``, ``seed``, ``dir``,
``seconds`` and ``finished_at``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.errors import ConfigError
from agent.trajectory import record_verdict, write_json_atomic
from tasks.results import RESULTS, FailureStreak, ResultsLog, finished, load_results

EVAL = "eval.json"
__all__ = ["EVAL", "RESULTS", "ResultsLog", "Unit", "check_config", "finished", "load_results", "plan", "run_units"]


@dataclass(frozen=True)
class Unit:
    """One episode to run: which task, which repetition, which seed."""

    task: str
    episode: int
    seed: int

    @property
    def key(self) -> str:
        """Identifies the unit in ``results.jsonl`` (task and episode; the seed follows from the plan)."""
        return f"{self.task}#{self.episode}"

    @property
    def dirname(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.task)
        return f"{safe}-{self.episode:03d}"


RunOne = Callable[[Unit, Path], dict[str, Any]]


def plan(tasks: Iterable[str], episodes: int, seed: int = 0) -> list[Unit]:
    """``episodes`` units per task, task by task; episode ``i`` gets seed ``seed + i`` for every task,
    so reruns and other models see the very same problems."""
    if episodes < 1:
        raise ConfigError(f"--episodes must be at least 1, got {episodes}")
    return [Unit(task, i, seed + i) for task in tasks for i in range(episodes)]


# Options that say where or how fast results come, not what they are: a moved server is the same run.
NOT_COMPARED = frozenset({"base_url", "api_key", "timeout", "workers"})


def check_config(out: Path, config: dict[str, Any], *, has_results: bool = True) -> None:
    """Refuse to resume ``out`` with options that change results; (re)write ``eval.json`` otherwise.

    Only options that change what a unit's result is are compared (`NOT_COMPARED` are not). With no
    results yet (``has_results`` False: an earlier attempt stopped before any unit finished, say on a
    typo'd --model) there is nothing to protect and the new options replace the old ones.
    """
    path = out / EVAL
    config = json.loads(json.dumps(config, default=str))  # what it will look like when read back
    if path.is_file() and has_results:
        before = json.loads(path.read_text("utf-8"))
        changed = [f"{k}: {before.get(k)!r} then, {config.get(k)!r} now"
                   for k in sorted((before.keys() | config.keys()) - NOT_COMPARED) if before.get(k) != config.get(k)]
        if changed:
            raise ConfigError(
                f"{out} holds results of a run with other options ({'; '.join(changed)}). Resume with the same "
                "options, or pass another --out directory for a new run."
            )
    write_json_atomic(path, config)


def run_units(
    units: Sequence[Unit],
    run_one: RunOne,
    out: str | Path,
    *,
    config: dict[str, Any] | None = None,
    retry_errors: bool = False,
    console: Console | None = None,
    label: str = "eval",
    max_server_failures: int = 3,
) -> list[dict[str, Any]]:
    """Run every unit not yet in ``OUT/results.jsonl``; returns the records of all ``units``, old and new.

    ``run_one(unit, directory)`` runs one unit with ``directory`` as its trajectory (not yet created) and
    returns its result dict. An exception other than `ConfigError` / KeyboardInterrupt is recorded as an
    "error" result and the run goes on; those two stop the run (the unit is not recorded, so it reruns).
    After ``max_server_failures`` units in a row that failed on the model server (0: never) the run stops
    with `ServerFailing`; those units are recorded as errors and rerun with ``--retry-errors``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    console = console or Console(stderr=True)
    with ResultsLog(out) as log:
        if config is not None:
            check_config(out, config, has_results=bool(log.records))
        done = finished(log.records, retry_errors=retry_errors)
        pending = [u for u in units if u.key not in done]
        if len(pending) < len(units):
            console.print(f"[dim]{out}: {len(units) - len(pending)} of {len(units)} episodes already finished; skipped[/]")
        streak = FailureStreak(max_server_failures, "run the same command with --retry-errors to resume")
        with _progress(console) as progress:
            bar = progress.add_task(label, total=len(units), completed=len(units) - len(pending), current="")
            for unit in pending:
                progress.update(bar, current=unit.key)
                record = _run_unit(unit, run_one, out, label)
                log.append(record)
                done[unit.key] = record
                progress.advance(bar)
                streak.add(record)
    return [done[u.key] for u in units if u.key in done]


def _run_unit(unit: Unit, run_one: RunOne, out: Path, label: str) -> dict[str, Any]:
    directory = out / unit.dirname
    if directory.exists():  # left by an earlier attempt: keep it for inspection, start clean
        n = 1
        while directory.with_name(f"{unit.dirname}.attempt-{n}").exists():
            n += 1
        directory.rename(directory.with_name(f"{unit.dirname}.attempt-{n}"))
    started = time.perf_counter()
    try:
        result = dict(run_one(unit, directory))
    except (ConfigError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - one broken episode must not end the whole evaluation
        result = {"outcome": "error", "success": False, "reason": f"{type(exc).__name__}: {exc}"}
    result.setdefault("success", result.get("outcome") == "success")
    if directory.exists():  # the episode's folder says what the evaluation said, not only what the agent claimed
        with contextlib.suppress(OSError, ValueError):  # results.jsonl stays the record if the folder is damaged
            record_verdict(directory, result, judge=f"{label} (results.jsonl)")
    return {
        "task": unit.task,
        "episode": unit.episode,
        "seed": unit.seed,
        **result,
        "dir": unit.dirname if directory.exists() else None,
        "seconds": round(time.perf_counter() - started, 3),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[current]}"), console=console, transient=False,
    )


# -- summary -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """Aggregates of one group of records (a task, or everything)."""

    name: str
    episodes: int
    successes: int
    errors: int
    mean_reward: float | None
    mean_steps: float | None

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "episodes": self.episodes, "successes": self.successes, "errors": self.errors,
                "success_rate": self.success_rate, "mean_reward": self.mean_reward, "mean_steps": self.mean_steps}


def summarise(
    records: Iterable[dict[str, Any]], group: str | Callable[[dict[str, Any]], str] = "task"
) -> list[Summary]:
    """One `Summary` per group (by the ``group`` key or function, in first-seen order), then "all"."""
    key = group if callable(group) else (lambda r: str(r.get(group)))
    groups: dict[str, list[dict[str, Any]]] = {}
    everything = list(records)
    for record in everything:
        groups.setdefault(key(record), []).append(record)
    rows = [_summary(name, rs) for name, rs in groups.items()]
    return rows + [_summary("all", everything)] if len(groups) != 1 else rows


def _summary(name: str, records: list[dict[str, Any]]) -> Summary:
    rewards = [float(r["reward"]) for r in records if r.get("reward") is not None]
    steps = [r["steps"] for r in records if r.get("steps") is not None]
    return Summary(
        name, len(records), sum(bool(r.get("success")) for r in records),
        sum(r.get("outcome") == "error" for r in records),
        sum(rewards) / len(rewards) if rewards else None, sum(steps) / len(steps) if steps else None,
    )


def results_table(summaries: Sequence[Summary], title: str = "Results", group_label: str = "task") -> Table:
    """The per-group table printed at the end of every evaluation."""
    table = Table(title=title)
    table.add_column(group_label)
    for column in ("episodes", "success", "mean reward", "mean steps", "errors"):
        table.add_column(column, justify="right")
    for s in summaries:
        style = "bold" if s.name == "all" else None
        table.add_row(
            s.name, str(s.episodes), f"{s.success_rate:.1%} ({s.successes})",
            "-" if s.mean_reward is None else f"{s.mean_reward:.3f}",
            "-" if s.mean_steps is None else f"{s.mean_steps:.1f}", str(s.errors), style=style,
        )
    return table
