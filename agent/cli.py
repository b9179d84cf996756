"""``gui-agent``: run an instruction, replay a recording, evaluate, and the grounding jobs.

Environments, evaluation suites and extra commands live in their own modules and are found through
the registries below; each module offers ``add_arguments(parser)`` and ``from_args(args)`` (an
environment) or ``main(args) -> int`` (a suite or command), and imports heavy libraries lazily.
Exit codes: 0 success, 1 the task failed or hit its step limit, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.markup import escape

from agent.argtypes import non_negative_int, positive_float, positive_int
from agent.errors import ConfigError, GuiAgentError
from agent.geometry import MAX_PIXELS, MIN_PIXELS

console = Console(stderr=True)

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


# -- shared option groups ----------------------------------------------------------------------------
def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that choose and configure the model; used by every command that asks one."""
    g = parser.add_argument_group("model")
    g.add_argument("--model", default=None,
                   help="HF id or local directory for in-process transformers (default Qwen/Qwen2.5-VL-3B-Instruct); "
                        "with --base-url, the served model's name")
    g.add_argument("--base-url", action="append", default=None, metavar="URL",
                   help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1; repeat it for several replicas "
                        "of the same model (each request goes to the least-loaded healthy one)")
    g.add_argument("--api-key", default=None, help="API key for --base-url (default: $OPENAI_API_KEY or 'EMPTY')")
    g.add_argument("--timeout", type=positive_float, default=120.0,
                   help="seconds a model request may take, retries included (server; default 120)")
    g.add_argument("--dtype", default="auto", help="auto (default: the checkpoint's; fp16 becomes bf16), bfloat16, float32, float16")
    g.add_argument("--device-map", default=None, help="transformers device_map, e.g. auto, cpu, cuda:0")
    g.add_argument("--attn", default="sdpa", help="attention implementation: sdpa (default), flash_attention_2, eager")
    g.add_argument("--max-new-tokens", type=positive_int, default=256, help="longest answer in tokens (default 256)")
    g.add_argument("--constrain-tool-calls", nargs="?", const="click,type,terminate", default=None, metavar="ACTIONS",
                   help="with --base-url on vLLM: the server may only answer valid tool calls (structured outputs) "
                        "of these actions (default click,type,terminate)")
    g.add_argument("--min-pixels", type=positive_int, default=MIN_PIXELS,
                   help=f"smallest model-space area (default {MIN_PIXELS})")
    g.add_argument("--max-pixels", type=positive_int, default=MAX_PIXELS,
                   help=f"largest model-space area (default {MAX_PIXELS}; not below --min-pixels)")


def add_agent_arguments(parser: argparse.ArgumentParser, *, max_steps: int = 20,
                        max_steps_help: str = "actions before the step limit") -> None:
    """Options of the loop itself; every command that runs episodes takes them."""
    a = parser.add_argument_group("agent")
    a.add_argument("--max-steps", type=positive_int if max_steps else non_negative_int, default=max_steps,
                   help=f"{max_steps_help} (default {max_steps})")
    a.add_argument("--max-retries", type=non_negative_int, default=2,
                   help="re-asks per step after an unusable answer (default 2)")
    a.add_argument("--history-images", type=positive_int, default=1,
                   help="screenshots in the prompt, newest last (default 1)")
    a.add_argument("--reasoning", action="store_true", help="ask for <thinking> and <conclusion> around the call")
    a.add_argument("--tool-extensions", type=tool_extensions, default=None, metavar="LIST",
                   help="deliberate differences from the cookbook schema to switch on, comma-separated (default: "
                        "all, optional_coordinate,answer; see agent/prompts/qwen25vl.toml [differences])")
    a.add_argument("--cookbook-schema", dest="tool_extensions", action="store_const", const=(),
                   help="show the model the exact cookbook tool schema (no extension; same as --tool-extensions '')")


def agent_config(args: argparse.Namespace):
    """The `AgentConfig` that the agent and model options name."""
    from agent.loop import AgentConfig

    return AgentConfig(max_steps=args.max_steps, max_retries=args.max_retries, min_pixels=args.min_pixels,
                       max_pixels=args.max_pixels, history_images=args.history_images, reasoning=args.reasoning,
                       **({} if args.tool_extensions is None else {"tool_extensions": args.tool_extensions}))


def tool_extensions(text: str) -> tuple[str, ...]:
    """``optional_coordinate,answer`` -> a tuple of known extension names (argparse type)."""
    from tools.base import EXTENSIONS

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if unknown := [n for n in names if n not in EXTENSIONS]:
        raise argparse.ArgumentTypeError(f"unknown tool extension {', '.join(unknown)}; known: {', '.join(EXTENSIONS)}")
    return names


def add_safety_arguments(parser: argparse.ArgumentParser) -> None:
    from environments.safety import add_arguments

    add_arguments(parser)


def add_report_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", action="store_true",
                        help="write the HTML report (OUT/report.html) at the end, as `gui-agent view OUT` does")


DEFAULT_MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"


def base_urls(args: argparse.Namespace) -> list[str]:
    """The --base-url values (a list; a single string from callers that built the namespace themselves)."""
    value = getattr(args, "base_url", None)
    return [] if not value else [value] if isinstance(value, str) else list(value)


def base_url_option(args: argparse.Namespace) -> str | list[str] | None:
    """--base-url as recorded in eval.json/summary.json: the URL, or the list of them."""
    urls = base_urls(args)
    return None if not urls else urls[0] if len(urls) == 1 else urls


def shared_model(args: argparse.Namespace, workers: int):
    """`build_model`, made safe for ``workers`` threads: an in-process model takes their requests in turns."""
    model = build_model(args)
    if workers > 1 and not base_urls(args):
        from agent.models.pool import OneAtATime

        return OneAtATime(model)
    return model


def build_model(args: argparse.Namespace):
    """The model the options name: a server with --base-url, else transformers in-process."""
    if args.max_pixels < args.min_pixels:
        raise ConfigError(f"--max-pixels ({args.max_pixels}) is below --min-pixels ({args.min_pixels}): "
                          "the model-space area must lie between them")
    if args.base_url:
        from agent.models.openai import OpenAIModel

        if not args.model:
            raise ConfigError("--base-url needs --model NAME: the model's name on that server (see GET /v1/models)")
        from agent.models.structured import constrained_outputs

        def endpoint(url: str, **retries: float) -> OpenAIModel:
            return OpenAIModel(url, args.model, api_key=args.api_key, timeout=args.timeout,
                               max_tokens=args.max_new_tokens, client_limits=(args.min_pixels, args.max_pixels),
                               structured_outputs=constrained_outputs(getattr(args, "constrain_tool_calls", None)),
                               **retries)

        urls = base_urls(args)
        if len(urls) == 1:
            return endpoint(urls[0])
        from agent.models.pool import Endpoints

        # one quick retry on an endpoint; the pool retries on the other endpoints
        return Endpoints(urls, lambda url: endpoint(url, max_retries=1, retry_wait=0.5),
                         report=lambda message: console.print(f"[yellow]{message}[/]"))
    from agent.models.transformers import TransformersModel

    return TransformersModel(args.model or DEFAULT_MODEL, dtype=args.dtype, device_map=args.device_map,
                             attn_implementation=args.attn, min_pixels=args.min_pixels, max_pixels=args.max_pixels,
                             max_new_tokens=args.max_new_tokens)


def default_out(kind: str, label: str) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in label.lower())[:40].strip("-") or kind
    return Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{kind}-{slug}"


# -- commands ----------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from agent.loop import Agent
    from agent.report import print_episode
    from agent.trajectory import TrajectoryWriter
    from agent.viewer import announce
    from environments import safety

    module = _module(ENVIRONMENTS[args.env])
    if module is None:
        raise ConfigError(f"the {args.env} environment is not part of this installation")
    config = agent_config(args)
    rules = safety.load_options(args)
    out = Path(args.out) if args.out else default_out(args.env, args.instruction)
    writer = TrajectoryWriter(out)  # refuses a used --out before a browser, display or model is started
    model = build_model(args)
    with module.from_args(args) as env:
        recorder = module.wrap_recorder(env, writer) if hasattr(module, "wrap_recorder") else writer
        result = Agent(model, safety.wrap(env, args, rules, out), config, recorder).run(args.instruction)
    print_episode(out, result, console)
    code = module.report(env, result, console) if hasattr(module, "report") else result.exit_code
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


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (argparse printed them), --help, --version: the code, not an exit
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.func(args)
    except ConfigError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 2
    except GuiAgentError as exc:  # a server timeout, a failed environment: infrastructure, not the user's fault
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 3
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; the trajectory recorded so far is kept[/]")
        return 130


def exit_main() -> None:  # pragma: no cover
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
