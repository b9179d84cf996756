"""The evaluation runner every suite shares: plan units, skip finished ones, run, record, summarise.

A suite (MiniWoB++, Android, ScreenSpot) supplies a list of `Unit` (task id, episode, seed) and a
callback that runs one unit and returns its result dict — or ``make_worker(index)``, which gives each of
``--workers`` workers its own callback and environment (`tasks.pool`: threads here; `tasks.ray_pool`: Ray
actors). The runner owns the rest, identically for all, in the process that started the run:

- ``OUT/results.jsonl``: one line per finished unit, appended and flushed (fsync'd) as soon as it ends,
  so an interrupted run loses at most the unit in flight (`tasks.results.ResultsLog`, shared with ScreenSpot:
  a torn last line is repaired before appending);
- ``OUT/<task>-<episode>/``: the unit's own directory (a trajectory), handed to the callback;
- resume: units already in ``results.jsonl`` are skipped; a directory left by an earlier attempt (an
  interrupted unit, or an error being retried) is kept, renamed ``<dir>.attempt-N``, and the unit runs again;
- ``OUT/eval.json``: the options of the latest start; resuming with ones that change results is refused,
  so one results file never mixes two models (where the server is, or how many workers ask it, may change);
- ``--episode-timeout``: a unit running longer is recorded as an error (``timeout``) and its worker replaced;
- one rich progress bar (done/total, elapsed, ETA, live success rate), a per-task table at the end and
  ``OUT/summary.json`` (`write_summary`: figures, options, package versions).

Result dicts use these keys when they apply (the table reads them; anything else is kept verbatim):
``outcome`` ("success" | "failure" | "step_limit" | "error"; "error" only for infrastructure faults), ``success`` (bool), ``reward`` (float),
``steps`` (int), ``reason`` (str), ``error`` (the class of the error that ended it) and ``fault`` (model,
environment, user or server; see `agent.errors`). The runner adds ``task``, ``episode``, ``seed``, ``dir``,
``seconds`` and ``finished_at``.
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from agent.errors import ConfigError
from agent.trajectory import record_verdict, write_json_atomic
from tasks.pool import InlinePool, MakeWorker, Pool, ThreadPool
from tasks.results import RESULTS, FailureStreak, ResultsLog, finished, load_results

EVAL, SUMMARY = "eval.json", "summary.json"
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


def add_eval_arguments(parser: Any, *, workers_help: str = "episodes run at once, each with its own environment") -> None:
    """The runner's options, shared by every ``gui-agent eval`` suite."""
    from agent.argtypes import positive_float, positive_int

    g = parser.add_argument_group("runner")
    g.add_argument("--workers", type=positive_int, default=1, help=f"{workers_help} (default 1)")
    g.add_argument("--episode-timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="give up an episode after this long: recorded as an error (timeout), rerun with "
                        "--retry-errors (default: none)")
    g.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run the workers as Ray actors: on the cluster at ADDRESS (host:6379, ray://host:10001, "
                        "auto), or alone for a Ray instance on this machine")
    g.add_argument("--ray-cpus", type=positive_float, default=1.0,
                   help="CPUs Ray reserves per worker (default 1: one browser, display or device client each)")


def worker_model(args: Any, pixels: Any = None):
    """The model the workers use: shared by local threads (resizing within ``pixels``, the limits the loop
    gets; default: read from the options), rebuilt from its options on each Ray actor."""
    if getattr(args, "ray", None):
        from agent.models.recipe import LazyModel, ModelRecipe

        return LazyModel(ModelRecipe.from_args(args))
    from agent.options import shared_model

    return shared_model(args, args.workers, pixels)


def make_pool(args: Any, make_worker: MakeWorker) -> Pool | None:
    """A `RayPool` with --ray, else None (the runner's local threads)."""
    if not getattr(args, "ray", None):
        return None
    from tasks.ray_pool import RayPool

    return RayPool(make_worker, args.workers, args.ray, cpus=args.ray_cpus)


def runner_options(args: Any) -> dict[str, Any]:
    """How the run was carried out (not part of what makes results comparable): for ``summary.json``."""
    return {"workers": args.workers, "episode_timeout": args.episode_timeout, "ray": getattr(args, "ray", None),
            "ray_cpus": getattr(args, "ray_cpus", None) if getattr(args, "ray", None) else None}


def run_episodes(args: Any, units: list[Unit], out: Path, options: dict[str, Any], make_worker: MakeWorker, *,
                 label: str, workers: int, console: Console, summary: dict[str, Any] | None = None) -> int:
    """An episode suite's command from its planned units on: run them (resumable), write ``summary.json``,
    print the table and where the results are, announce the report; returns the evaluation's exit code."""
    from agent.exits import for_evaluation
    from agent.viewer import announce

    records = run_units(units, None, out, config=options, retry_errors=args.retry_errors, console=console,
                        label=label, make_worker=make_worker, workers=workers,
                        episode_timeout=args.episode_timeout, pool=make_pool(args, make_worker))
    write_summary(out, records, options | runner_options(args) | (summary or {}))
    Console().print(results_table(summarise(records), title=f"{label} ({len(records)} episodes)"))
    console.print(f"results: {out / 'results.jsonl'}  (rerun with --out {out} to resume)")
    announce(out, getattr(args, "report", False), console)
    return for_evaluation(r.get("outcome") for r in records)


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
    run_one: RunOne | None,
    out: str | Path,
    *,
    config: dict[str, Any] | None = None,
    retry_errors: bool = False,
    console: Console | None = None,
    label: str = "eval",
    max_server_failures: int = 3,
    make_worker: MakeWorker | None = None,
    workers: int = 1,
    episode_timeout: float | None = None,
    pool: Pool | None = None,
    directories: bool = True,
    fsync_every: float = 0.0,
    noun: str = "episodes",
    resume: str = "run the same command with --retry-errors to resume",
) -> list[dict[str, Any]]:
    """Run every unit not yet in ``OUT/results.jsonl``; returns the records of all ``units``, old and new.

    ``run_one(unit, directory)`` runs one unit with ``directory`` as its trajectory (not yet created) and
    returns its result dict; with ``workers`` > 1, ``make_worker(index)`` gives each worker its own such
    callable (and environment), made in the worker's thread. ``pool`` runs units elsewhere (Ray). Records
    are appended here, in this process, as units finish, whatever ran them. An exception other than
    `ConfigError` / KeyboardInterrupt is recorded as an "error" result and the run goes on; those two
    stop the run (units in flight are not recorded, so they rerun). ``directories=False``: units keep no
    trajectory (ScreenSpot samples).
    After ``max_server_failures`` units in a row that failed on the model server (0: never) the run stops
    with `ServerFailing`; those units are recorded as errors and rerun with ``--retry-errors``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    console = console or Console(stderr=True)
    if pool is None:
        if make_worker is None and run_one is None:
            raise ValueError("run_units needs run_one or make_worker")
        if make_worker is None and workers == 1:
            pool = InlinePool(run_one)  # run_one may hold objects of this thread
        else:
            pool = ThreadPool(make_worker or _same(run_one), workers)
    interrupted = False
    try:
        with ResultsLog(out, fsync_every=fsync_every) as log:
            if config is not None:
                check_config(out, config, has_results=bool(log.records))
            done = finished(log.records, retry_errors=retry_errors)
            pending = [u for u in units if u.key not in done]
            if len(pending) < len(units):
                console.print(f"[dim]{out}: {len(units) - len(pending)} of {len(units)} {noun} already finished; skipped[/]")
            streak = FailureStreak(max_server_failures, resume)
            old = [done[u.key] for u in units if u.key in done]
            tally = _Tally(len(old), sum(bool(r.get("success")) for r in old))
            queue = deque(pending)
            in_flight = 0
            with _progress(console) as progress:
                bar = progress.add_task(label, total=len(units), completed=tally.seen, rate=tally.text())
                while True:
                    while queue and pool.free() > 0:
                        unit = queue.popleft()
                        pool.submit(unit, _fresh_directory(out, unit) if directories else None)
                        in_flight += 1
                    if not in_flight and not queue:
                        break
                    for unit, record in pool.results(0.2) + pool.expire(episode_timeout):
                        log.append(record)
                        if record.get("dir"):  # the episode's folder says what the evaluation said, too
                            with contextlib.suppress(OSError, ValueError):  # results.jsonl stays the record
                                record_verdict(out / record["dir"], record, judge=f"{label} (results.jsonl)")
                        done[unit.key] = record
                        in_flight -= 1
                        tally.add(record)
                        streak.add(record)
                        progress.update(bar, advance=1, rate=tally.text())
    except BaseException:
        interrupted = True
        raise
    finally:
        pool.close(wait=not interrupted)
    return [done[u.key] for u in units if u.key in done]


def _same(run_one: RunOne) -> MakeWorker:
    """Every worker shares ``run_one`` (one worker, or a suite whose units need no environment)."""
    return lambda index: run_one


def _fresh_directory(out: Path, unit: Unit) -> Path:
    directory = out / unit.dirname
    if directory.exists():  # left by an earlier attempt: keep it for inspection, start clean
        n = 1
        while directory.with_name(f"{unit.dirname}.attempt-{n}").exists():
            n += 1
        directory.rename(directory.with_name(f"{unit.dirname}.attempt-{n}"))
    return directory


@dataclass
class _Tally:
    seen: int
    successes: int

    def add(self, record: dict[str, Any]) -> None:
        self.seen += 1
        self.successes += bool(record.get("success"))

    def text(self) -> str:
        return f"{self.successes / self.seen:.1%} success ({self.successes}/{self.seen})" if self.seen else ""


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), TextColumn("[dim]{task.fields[rate]}"), console=console,
        transient=False,
    )


def write_summary(out: str | Path, records: list[dict[str, Any]], options: dict[str, Any], *,
                  group: str = "task") -> dict[str, Any]:
    """``OUT/summary.json``: per-group and overall figures, the options and the package versions."""
    from agent.loop import package_versions

    summary = {
        "options": json.loads(json.dumps(options, default=str)), "versions": package_versions(),
        "episodes": len(records), "groups": [s.to_dict() for s in summarise(records, group)],
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json_atomic(Path(out) / SUMMARY, summary)
    return summary


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
