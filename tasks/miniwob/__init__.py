"""MiniWoB++: seeded web tasks in Chromium, scored by each page's own reward.

``gui-agent eval miniwob --tasks click-button,enter-text --episodes 5 --base-url URL --model NAME``
runs every (task, episode) once, writes a trajectory per episode and ``results.jsonl`` under ``--out``,
and prints success rate, mean raw reward and steps per task. Run the same command with the same
``--out`` again to resume: finished episodes are not repeated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tasks.miniwob.task import DEFAULT_SCALE, MiniWoBEpisode, MiniWoBTask, PageState, check_task_ids, task_ids

__all__ = ["MiniWoBEpisode", "MiniWoBTask", "PageState", "add_arguments", "main", "task_ids"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from agent.options import add_agent_arguments, add_model_arguments
    from tasks.runner import add_eval_arguments

    g = parser.add_argument_group("MiniWoB++")
    which = g.add_mutually_exclusive_group()
    which.add_argument("--tasks", default=None, help="comma-separated task ids, e.g. click-button,enter-text")
    which.add_argument("--all", action="store_true", help="every task page the miniwob package ships (130 in miniwob 1.1)")
    which.add_argument("--list", action="store_true", help="print the task ids and exit")
    g.add_argument("--episodes", type=int, default=3, help="episodes per task (default 3)")
    g.add_argument("--seed", type=int, default=0, help="episode i of every task uses seed S+i (default 0)")
    g.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                   help=f"device px per CSS px of the 160x210 task area (default {DEFAULT_SCALE:g}: 480x630 screenshots)")
    g.add_argument("--time-limit", default="none", metavar="none|task|SECONDS",
                   help="the page's episode timer: none (default; a slow model is not timed out), the task's own, "
                        "or seconds")
    g.add_argument("--out", default=None, help="results directory; reuse it to resume (default runs/<time>-miniwob)")
    g.add_argument("--retry-errors", action="store_true", help="on resume, rerun episodes that ended in 'error'")
    g.add_argument("--headed", action="store_true", help="show the browser (needs DISPLAY)")
    add_eval_arguments(parser, workers_help="episodes run at once, each in its own browser")
    add_agent_arguments(parser, max_steps=10, max_steps_help="actions per episode")
    add_model_arguments(parser)


def _time_limit(text: str) -> float | str | None:
    from agent.errors import ConfigError

    if text in ("none", "task"):
        return None if text == "none" else "task"
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigError(f"--time-limit must be none, task or a positive number of seconds, got {text!r}")
    return value


def main(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.console import Console

    from agent.errors import ConfigError
    from agent.options import agent_config, base_url_option, default_out, pixel_limits
    from tasks.miniwob.suite import MiniWoBWorkers
    from tasks.runner import plan, run_episodes, worker_model

    if args.list:
        print("\n".join(task_ids()))
        return 0
    if not args.tasks and not args.all:
        raise ConfigError("choose the tasks: --tasks click-button,enter-text (see --list) or --all")
    ids = list(task_ids()) if args.all else check_task_ids([t.strip() for t in args.tasks.split(",") if t.strip()])
    time_limit = _time_limit(args.time_limit)
    if args.scale <= 0:
        raise ConfigError(f"--scale must be positive, got {args.scale}")
    units = plan(ids, args.episodes, args.seed)
    out = Path(args.out) if args.out else default_out("eval", "miniwob")
    pixels = pixel_limits(args)  # read once, handed to the loop and the model
    config = agent_config(args, pixels)
    options = {"suite": "miniwob", "model": args.model, "base_url": base_url_option(args), "seed": args.seed,
               "scale": args.scale, "time_limit": args.time_limit, **asdict(config)}
    err = Console(stderr=True)
    model = worker_model(args, pixels)
    workers = MiniWoBWorkers(model, config, scale=args.scale, time_limit=time_limit, headless=not args.headed)
    return run_episodes(args, units, out, options, workers, label="MiniWoB++", workers=args.workers, console=err)
