"""AndroidWorld-style tasks on an Android device over adb (the simulated phone or a real one).

``gui-agent eval android --tasks SystemWifiTurnOn,NotesCreate --episodes 2 --base-url ... --model ...``.
Settings tasks and SystemAndroidVersionAnswer run on any device; the notes/contacts tasks need the
simulated phone's apps (see --list). Results: one trajectory per episode, results.jsonl, resume.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from agent.cli import add_agent_arguments, add_model_arguments

    g = parser.add_argument_group("suite")
    g.add_argument("--tasks", default=None, help="comma-separated task ids (default: all; see --list)")
    g.add_argument("--list", action="store_true", help="print the task ids with the apps they need, and exit")
    g.add_argument("--episodes", type=int, default=1, help="episodes per task (default 1)")
    g.add_argument("--seed", type=int, default=0, help="episode i of every task uses seed S+i (default 0)")
    g.add_argument("--out", default=None, help="results directory; reuse it to resume (default runs/<time>-android)")
    g.add_argument("--retry-errors", action="store_true", help="on resume, rerun episodes that ended in 'error'")
    d = parser.add_argument_group("device")
    d.add_argument("--serial", default=None, help="device serial (default: the only device)")
    d.add_argument("--adb-host", default=None, help="adb server host (default 127.0.0.1)")
    d.add_argument("--adb-port", type=int, default=None, help="adb server port (default $ANDROID_ADB_SERVER_PORT or 5037)")
    d.add_argument("--adb-capture", choices=("auto", "raw", "png"), default="png", help="screenshot transfer format (default png)")
    d.add_argument("--adb-settle", type=float, default=0.3, help="seconds to let the UI react after each action (default 0.3)")
    add_agent_arguments(parser, max_steps=0, max_steps_help="cap on each task's own budget of 10 x complexity")
    add_model_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.console import Console

    from agent.cli import agent_config, build_model, default_out
    from agent.errors import ConfigError
    from agent.viewer import announce
    from environments.android.env import AndroidEnvironment
    from tasks.android.episode import AndroidSuite
    from tasks.android.suite import REGISTRY
    from tasks.runner import plan, results_table, run_units, summarise

    if args.list:
        for task_id, cls in REGISTRY.items():
            print(f"{task_id:28} {'needs ' + ', '.join(cls.apps) if cls.apps else 'any device'}")
        return 0
    ids = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else list(REGISTRY)
    unknown = [t for t in ids if t not in REGISTRY]
    if unknown:
        raise ConfigError(f"unknown Android task(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    if args.max_steps < 0:
        raise ConfigError("--max-steps must be 0 (the tasks' own budgets) or positive")
    units = plan(ids, args.episodes, args.seed)
    out = Path(args.out) if args.out else default_out("eval", "android")
    config = agent_config(args)
    options = {"suite": "android", "model": args.model, "base_url": args.base_url, "seed": args.seed, **asdict(config)}
    err = Console(stderr=True)
    model = build_model(args)
    with AndroidEnvironment(args.serial, args.adb_host, args.adb_port, capture=args.adb_capture,
                            settle=args.adb_settle) as env:
        for task_id in dict.fromkeys(ids):  # refuse up front tasks whose apps this device lacks
            REGISTRY[task_id].sample(args.seed).check_device(env)
        suite = AndroidSuite(env, model, config)
        records = run_units(units, suite.run, out, config=options, retry_errors=args.retry_errors, console=err,
                            label="Android")
    Console().print(results_table(summarise(records), title=f"Android ({len(records)} episodes)"))
    err.print(f"results: {out / 'results.jsonl'}  (rerun with --out {out} to resume)")
    announce(out, getattr(args, "report", False), err)
    return 0
