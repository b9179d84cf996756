"""AndroidWorld-style tasks on an Android device over adb (the simulated phone or a real one).

``gui-agent eval android --tasks SystemWifiTurnOn,NotesCreate --episodes 2 --base-url ... --model ...``.
Settings tasks and SystemAndroidVersionAnswer run on any device; the notes/contacts tasks need the
simulated phone's apps (see --list). Results: one trajectory per episode, results.jsonl, resume.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from agent.argtypes import non_negative_float
    from agent.options import add_agent_arguments, add_model_arguments
    from tasks.runner import add_eval_arguments

    g = parser.add_argument_group("suite")
    g.add_argument("--tasks", default=None, help="comma-separated task ids (default: all; see --list)")
    g.add_argument("--list", action="store_true", help="print the task ids with the apps they need, and exit")
    g.add_argument("--episodes", type=int, default=1, help="episodes per task (default 1)")
    g.add_argument("--seed", type=int, default=0, help="episode i of every task uses seed S+i (default 0)")
    g.add_argument("--out", default=None, help="results directory; reuse it to resume (default runs/<time>-android)")
    g.add_argument("--retry-errors", action="store_true", help="on resume, rerun episodes that ended in 'error'")
    d = parser.add_argument_group("device")
    d.add_argument("--serial", action="append", default=None,
                   help="device serial; repeat it for several devices, one per --workers (default: the only "
                        "device, or the first N ready ones for N workers)")
    d.add_argument("--adb-host", default=None, help="adb server host (default 127.0.0.1)")
    d.add_argument("--adb-port", type=int, default=None, help="adb server port (default $ANDROID_ADB_SERVER_PORT or 5037)")
    d.add_argument("--adb-capture", choices=("auto", "raw", "png"), default="png", help="screenshot transfer format (default png)")
    d.add_argument("--adb-settle", type=non_negative_float, default=0.3, help="seconds to let the UI react after each action (default 0.3)")
    add_eval_arguments(parser, workers_help="episodes run at once, one device each")
    add_agent_arguments(parser, max_steps=0, max_steps_help="cap on each task's own budget of 10 x complexity")
    add_model_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.console import Console

    from agent.errors import ConfigError
    from agent.options import agent_config, base_url_option, default_out, pixel_limits
    from environments.android.env import AndroidEnvironment
    from tasks.android.episode import AndroidWorkers
    from tasks.android.suite import REGISTRY
    from tasks.runner import plan, run_episodes, worker_model

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
    pixels = pixel_limits(args)  # read once, handed to the loop and the model
    config = agent_config(args, pixels)
    options = {"suite": "android", "model": args.model, "base_url": base_url_option(args), "seed": args.seed, **asdict(config)}
    err = Console(stderr=True)
    serials = _serials(args)
    for serial in serials:  # refuse up front tasks whose apps a device lacks
        with AndroidEnvironment(serial, args.adb_host, args.adb_port, capture=args.adb_capture) as env:
            for task_id in dict.fromkeys(ids):
                REGISTRY[task_id].sample(args.seed).check_device(env)
    model = worker_model(args, pixels)
    workers = AndroidWorkers(model, config, tuple(serials), args.adb_host, args.adb_port, args.adb_capture,
                             args.adb_settle)
    return run_episodes(args, units, out, options, workers, label="Android", workers=len(serials), console=err,
                        summary={"serials": serials})


def _serials(args: argparse.Namespace) -> list[str | None]:
    """One device per worker: the --serial values, or the first ready devices; None = the only device."""
    from agent.errors import ConfigError
    from environments.android.device import ready_serials

    if args.serial:
        if len(args.serial) < args.workers:
            raise ConfigError(f"--workers {args.workers} needs one device each, but only {len(args.serial)} "
                              f"--serial given: add --serial for each worker (the simulated phone serves several: "
                              f"`python -m environments.android_sim --serial emulator-5554 --serial emulator-5556`)")
        if len(set(args.serial)) < len(args.serial):
            raise ConfigError("a --serial is given twice: each worker needs a device of its own")
        return list(args.serial[:args.workers])
    if args.workers == 1:
        return [None]
    ready = ready_serials(args.adb_host, args.adb_port)
    if len(ready) < args.workers:
        raise ConfigError(f"--workers {args.workers} needs {args.workers} devices, but the adb server has "
                          f"{len(ready)} ready ({', '.join(ready) or 'none'}); attach more or lower --workers")
    return ready[:args.workers]
