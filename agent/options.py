"""The options every command shares, and the objects they name: one place, imported by the CLI and the suites.

Configuration flows one way: options are read here once into values (`PixelLimits`, `AgentConfig`,
the model), and those values are handed to whoever needs them — the loop and the model get the same
`PixelLimits`. Suites and commands add their own options through the keyword arguments below instead of
editing another parser's actions, and never import the CLI.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console

from agent.argtypes import non_negative_int, positive_float, positive_int
from agent.errors import ConfigError
from agent.geometry import MAX_PIXELS, MIN_PIXELS

console = Console(stderr=True)  # messages for people; results go to stdout
DEFAULT_MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"


@dataclass(frozen=True)
class PixelLimits:
    """The model-space area bounds (``smart_resize``'s min/max pixels), read once from the options."""

    min_pixels: int = MIN_PIXELS
    max_pixels: int = MAX_PIXELS

    def __post_init__(self) -> None:
        if self.max_pixels < self.min_pixels:
            raise ConfigError(f"--max-pixels ({self.max_pixels}) is below --min-pixels ({self.min_pixels}): "
                              "the model-space area must lie between them")


def pixel_limits(args: argparse.Namespace) -> PixelLimits:
    return PixelLimits(args.min_pixels, args.max_pixels)


def add_model_arguments(parser: argparse.ArgumentParser, *, max_pixels: int = MAX_PIXELS,
                        max_pixels_help: str | None = None) -> None:
    """Options that choose and configure the model; used by every command that asks one. A suite with
    another default area (ScreenSpot) passes ``max_pixels`` and says why in ``max_pixels_help``."""
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
    g.add_argument("--max-pixels", type=positive_int, default=max_pixels,
                   help=max_pixels_help or f"largest model-space area (default {max_pixels}; not below --min-pixels)")


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


def agent_config(args: argparse.Namespace, pixels: PixelLimits | None = None):
    """The `AgentConfig` that the agent options name, with ``pixels`` (default: read from the options)."""
    from agent.loop import AgentConfig

    pixels = pixels or pixel_limits(args)
    return AgentConfig(max_steps=args.max_steps, max_retries=args.max_retries, min_pixels=pixels.min_pixels,
                       max_pixels=pixels.max_pixels, history_images=args.history_images, reasoning=args.reasoning,
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


def base_urls(args: argparse.Namespace) -> list[str]:
    """The --base-url values (a list; a single string from callers that built the namespace themselves)."""
    value = getattr(args, "base_url", None)
    return [] if not value else [value] if isinstance(value, str) else list(value)


def base_url_option(args: argparse.Namespace) -> str | list[str] | None:
    """--base-url as recorded in eval.json/summary.json: the URL, or the list of them."""
    urls = base_urls(args)
    return None if not urls else urls[0] if len(urls) == 1 else urls


def shared_model(args: argparse.Namespace, workers: int, pixels: PixelLimits | None = None):
    """`build_model`, made safe for ``workers`` threads: an in-process model takes their requests in turns."""
    model = build_model(args, pixels)
    if workers > 1 and not base_urls(args):
        from agent.models.pool import OneAtATime

        return OneAtATime(model)
    return model


def build_model(args: argparse.Namespace, pixels: PixelLimits | None = None):
    """The model the options name: a server with --base-url (several: a pool), else transformers in-process,
    resizing within ``pixels`` (the same limits the loop is given; default: read from the options)."""
    pixels = pixels or pixel_limits(args)
    if args.base_url:
        from agent.models.openai import OpenAIModel

        if not args.model:
            raise ConfigError("--base-url needs --model NAME: the model's name on that server (see GET /v1/models)")
        from agent.models.structured import constrained_outputs

        def endpoint(url: str, **retries: float) -> OpenAIModel:
            return OpenAIModel(url, args.model, api_key=args.api_key, timeout=args.timeout,
                               max_tokens=args.max_new_tokens, client_limits=(pixels.min_pixels, pixels.max_pixels),
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
                             attn_implementation=args.attn, min_pixels=pixels.min_pixels, max_pixels=pixels.max_pixels,
                             max_new_tokens=args.max_new_tokens)


def default_out(kind: str, label: str) -> Path:
    """``runs/<time>-<kind>-<label slug>``."""
    slug = "".join(c if c.isalnum() else "-" for c in label.lower())[:40].strip("-") or kind
    return Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{kind}-{slug}"
