"""``gui-agent``: run an instruction, replay a recording, evaluate, and the grounding jobs.

Environments, evaluation suites and extra commands live in their own modules and are found through
the registries below; each module offers ``add_arguments(parser)`` and ``from_args(args)`` (an
environment) or ``main(args) -> int`` (a suite or command), and imports heavy libraries lazily.
Exit codes follow one rule for every command (`agent.exits`): 0 done, 1 not done (the task failed or hit
its step limit, nothing found), 2 the user's to fix, 3 infrastructure (environment or model server),
130 interrupted. `main` is the one place that turns an error escaping a command into its code and message.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

from rich.markup import escape

from agent.errors import ConfigError, GuiAgentError
from agent.exits import Exit, for_exception
from agent.options import (  # noqa: F401 - re-exported: `from agent.cli import build_model` keeps working
    DEFAULT_MODEL,
    PixelLimits,
    add_agent_arguments,
    add_model_arguments,
    add_report_argument,
    add_safety_arguments,
    agent_config,
    base_url_option,
    base_urls,
    build_model,
    console,
    default_out,
    pixel_limits,
    shared_model,
    tool_extensions,
)

ENVIRONMENTS = {
    "browser": "environments.browser",
    "desktop": "environments.desktop",
    "android": "environments.android",
    "replay": "environments.replay_cli",
}
SUITES = {
    "miniwob": "tasks.miniwob",
    "android": "tasks.android",
    "screenspot": "tasks.screenspot",
}
COMMANDS = {
    "describe": "agent.commands.describe",
    "detect": "agent.commands.detect",
    "ground": "agent.commands.ground",
    "view": "agent.commands.view",
    "record": "agent.regression.record",
    "assert": "agent.regression.assert_cmd",
    "serve": "agent.commands.serve",
    "make-grounding-set": "tasks.grounding_set",
}


def _module(name: str) -> ModuleType | None:
    """The registered module, or None when it is not part of this installation (or not a command module)."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise
    return module if hasattr(module, "add_arguments") else None


# -- shared options live in agent.options (suites import them from there, never from the CLI) ---------
# -- commands ----------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from agent.loop import Agent
    from agent.report import print_episode
    from agent.trajectory import TrajectoryWriter
    from agent.viewer import announce
    from environments import safety
    from environments.make import make_env

    module = _module(ENVIRONMENTS[args.env])
    if module is None:
        raise ConfigError(f"the {args.env} environment is not part of this installation")
    pixels = pixel_limits(args)  # read once, handed to the loop and the model
    config = agent_config(args, pixels)
    rules = safety.load_options(args)
    out = Path(args.out) if args.out else default_out(args.env, args.instruction)
    writer = TrajectoryWriter(out)  # refuses a used --out before a browser, display or model is started
    model = build_model(args, pixels)
    outer, inner = safety.wrappers(args, rules, out)
    dry_run = out / "dry-run" if args.dry_run else None
    adapter = module.from_args(args)
    with make_env(adapter, max_steps=config.max_steps, dry_run=dry_run, outer=outer, inner=inner) as env:
        recorder = module.wrap_recorder(adapter, writer) if hasattr(module, "wrap_recorder") else writer
        result = Agent(model, env, config, recorder).run(args.instruction)
    print_episode(out, result, console)
    code = module.report(adapter, result, console) if hasattr(module, "report") else result.exit_code
    announce(out, args.report, console)
    return code


def cmd_replay(args: argparse.Namespace) -> int:
    if args.live:
        from agent.regression.cli import run_live

        return run_live(args, console)
    from agent.replay import replay_session

    return replay_session(Path(args.dir), Path(args.out) if args.out else None, console)


def cmd_demo(args: argparse.Namespace) -> int:
    from agent.demo import run_demo

    return run_demo(args, console)


def _delegate(args: argparse.Namespace) -> int:
    return args.module.main(args)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qwen-gui-agent")
    except PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gui-agent",
        description="Let Qwen2.5-VL operate a desktop, a browser or an Android device.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="carry out an instruction in an environment")
    run.add_argument("instruction")
    run.add_argument("--env", required=True, choices=list(ENVIRONMENTS))
    run.add_argument("--out", default=None, help="trajectory directory (default runs/<time>-<env>-<task>)")
    add_report_argument(run)
    run.add_argument("--dry-run", action="store_true",
                     help="execute nothing: draw each action on the screenshot it would act on (into <out>/dry-run/) "
                          "and record what it would have done")
    add_agent_arguments(run)
    add_model_arguments(run)
    add_safety_arguments(run)
    for name, module_name in ENVIRONMENTS.items():
        module = _module(module_name)
        if module is not None:
            module.add_arguments(run.add_argument_group(f"{name} environment"))
    run.set_defaults(func=cmd_run)

    replay = sub.add_parser("replay", help="re-run a recorded session offline and check it matches")
    replay.add_argument("dir")
    replay.add_argument("--out", default=None, help="where to write the replay's own trajectory")
    from agent.regression.cli import add_live_arguments

    add_live_arguments(replay)
    add_model_arguments(replay)
    replay.set_defaults(func=cmd_replay)

    demo = sub.add_parser("demo", help="the bundled demo (what `make demo` runs)")
    add_model_arguments(demo)
    demo.add_argument("--out", default=None)
    demo.set_defaults(func=cmd_demo)

    evaluate = sub.add_parser("eval", help="run an evaluation suite")
    suites = evaluate.add_subparsers(dest="suite", required=True, metavar="SUITE")
    for name, module_name in SUITES.items():
        module = _module(module_name)
        if module is not None:
            p = suites.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
            module.add_arguments(p)
            add_report_argument(p)
            p.set_defaults(func=_delegate, module=module)

    for name, module_name in COMMANDS.items():
        module = _module(module_name)
        if module is not None:
            p = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
            module.add_arguments(p)
            p.set_defaults(func=_delegate, module=module)
    return parser


_HEADINGS = {Exit.USAGE: "error", Exit.INFRASTRUCTURE: "failed", Exit.NOT_DONE: "error"}


def main(argv: list[str] | None = None) -> int:
    """Parse, run the command, and map whatever it returns or raises to an exit code (`agent.exits`)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (argparse printed them), --help, --version: the code, not an exit
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; what was recorded so far is kept[/]")
        return Exit.INTERRUPTED
    except GuiAgentError as exc:
        code = for_exception(exc)
        fault = f" ({exc.fault})" if code == Exit.INFRASTRUCTURE and exc.fault else ""
        console.print(f"[bold red]{_HEADINGS[code]}{fault}:[/] {escape(str(exc))}")
        return code


def exit_main() -> None:  # pragma: no cover
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
