"""ScreenSpot v1 / v2 / Pro grounding accuracy of a model, scored like the official scripts.

``gui-agent eval screenspot --data DIR`` reads a local copy (layout detected, see `tasks.screenspot.data`),
asks the model once per sample (`tasks.screenspot.grounding`) and writes ``OUT/results.jsonl`` (one line
per sample, resumable), ``OUT/summary.json`` and the standard tables (`tasks.screenspot.report`).
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.options import add_model_arguments

if TYPE_CHECKING:
    from rich.console import Console

    from agent.models.base import Model
    from tasks.screenspot.data import Dataset, Sample
    from tasks.screenspot.grounding import QuerySettings

SUMMARY = "summary.json"
_EVAL_MAX_PIXELS = 12_845_056  # = evaluate.EVAL_MAX_PIXELS; repeated so --help does not import PIL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tasks.runner import add_eval_arguments

    parser.add_argument("--data", required=True, help="directory of a local ScreenSpot v1, v2 or Pro copy")
    parser.add_argument("--format", default="auto", choices=("auto", "v1", "v2", "pro"),
                        help="layout of --data (default: detected)")
    parser.add_argument("--split", action="append", default=[],
                        help="only these splits: mobile/desktop/web (v1/v2) or annotation file stems (Pro); "
                             "repeat or comma-separate")
    parser.add_argument("--images", default=None, help="image directory, when it is not found next to the annotations")
    parser.add_argument("--language", default="en", choices=("en", "cn"), help="Pro: instruction (en, the default) or instruction_cn (cn)")
    parser.add_argument("--prefill", action=argparse.BooleanOptionalAction, default=True,
                        help="prefill the answer up to the coordinate, as the ScreenSpot-Pro harness does (default on)")
    parser.add_argument("--limit", type=int, default=None, help="at most N samples, taken in turn from each split")
    parser.add_argument("--out", default=None, help="results directory (default runs/<time>-screenspot-<data>); "
                                                   "an existing one is resumed")
    add_eval_arguments(parser, workers_help="requests in flight at once (servers)")
    from agent.server_resize import add_resize_argument

    add_resize_argument(parser)
    from agent.argtypes import positive_int

    parser.add_argument("--batch-size", type=positive_int, default=1,
                        help="in-process model: samples per forward pass (left-padded batch; default 1)")
    add_model_arguments(parser, max_pixels=_EVAL_MAX_PIXELS, max_pixels_help=(
        f"largest model-space area (default {_EVAL_MAX_PIXELS} = 16384·28·28, the model's own limit: no "
        "downscaling up to 4K; the Pro harness uses 99999999)"))


def main(args: argparse.Namespace) -> int:
    from agent.errors import ConfigError
    from agent.exits import for_evaluation
    from agent.options import build_model, console, default_out, pixel_limits
    from agent.viewer import announce
    from tasks.screenspot.data import load
    from tasks.screenspot.grounding import QuerySettings

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    splits = [s.strip() for value in args.split for s in value.split(",") if s.strip()]
    dataset = load(args.data, args.format, splits=splits, language=args.language, images=args.images)
    out = Path(args.out) if args.out else default_out("screenspot", Path(args.data).name)
    workers = args.workers
    if workers > 1 and not args.base_url and not args.ray:
        console.print("[yellow]--workers > 1 needs a server (--base-url); the in-process model runs one at a time[/]")
        workers = 1
    pixels = pixel_limits(args)  # read once, handed to the model and the query
    if args.batch_size > 1 and (args.base_url or args.ray):
        console.print("[yellow]--batch-size is for the in-process model; a server batches concurrent requests "
                      "itself (use --workers)[/]")
    pool_factory = None
    if args.ray:
        from tasks.runner import make_pool, worker_model

        model = worker_model(args, pixels)
        pool_factory = partial(make_pool, args)
        pool_factory.address = args.ray
    else:
        model = build_model(args, pixels)
        if args.batch_size > 1 and not args.base_url:
            from agent.models.pool import Batched

            model, workers = Batched(model, args.batch_size), args.batch_size  # the workers fill the batches
    settings = QuerySettings(min_pixels=pixels.min_pixels, max_pixels=pixels.max_pixels, prefill=args.prefill,
                             resize=args.resize)
    try:
        summary = evaluate(dataset, model, out, settings, workers=workers, limit=args.limit, language=args.language,
                           episode_timeout=args.episode_timeout, pool_factory=pool_factory,
                           console=console)
    finally:
        if hasattr(model, "close"):
            model.close()
    announce(out, getattr(args, "report", False), console)
    return for_evaluation("error" for _ in summary["errors"])


def evaluate(dataset: Dataset, model: Model, out: str | Path, settings: QuerySettings, *, workers: int = 1,
             episode_timeout: float | None = None, pool_factory: Any = None,
             limit: int | None = None, language: str = "en", console: Console | None = None) -> dict[str, Any]:
    """Score ``model`` on ``dataset`` into ``out`` (resuming what is there); returns the summary."""
    from rich.console import Console
    from rich.markup import escape

    from agent.loop import package_versions
    from agent.trajectory import write_json_atomic
    from tasks.screenspot.grounding import ground_sample, run_samples
    from tasks.screenspot.report import summarise, tables

    console = console or Console(stderr=True)
    out = Path(out)
    if getattr(model, "image_format", None) is not None:  # a server: torch only resizes in this process
        from agent.imaging import resize_in_one_thread

        resize_in_one_thread()
    if dataset.problems:
        console.print(f"[yellow]{len(dataset.problems)} invalid sample(s) left out:[/]")
        for line in dataset.problems[:10]:
            console.print(f"  [yellow]{escape(line)}[/]")
        if len(dataset.problems) > 10:
            console.print(f"  [yellow]... and {len(dataset.problems) - 10} more (all in {out / SUMMARY})[/]")
    samples = interleave(dataset.samples, limit)
    # What makes two answers to one sample comparable; --split and --limit may change between resumes.
    config = {
        "suite": "screenspot", "data": str(dataset.root.resolve()), "format": dataset.format, "language": language,
        "model": getattr(model, "name", type(model).__name__), "prefill": settings.prefill,
        "min_pixels": settings.min_pixels, "max_pixels": settings.max_pixels,
    }
    records = run_samples(samples, lambda s: ground_sample(model, s, settings), out, config=config,
                          workers=workers, console=console, episode_timeout=episode_timeout,
                          pool_factory=pool_factory)
    summary = summarise(records, dataset.format, problems=dataset.problems,
                        settings=config | {"splits": dataset.splits, "limit": limit, "resize": settings.resize})
    summary |= {"runner": {"workers": workers, "episode_timeout": episode_timeout, "ray": getattr(pool_factory, "address", None)},
                "versions": package_versions()}
    write_json_atomic(out / SUMMARY, summary)
    for table in tables(summary):
        console.print(table)
    notes = [f"{len(summary['errors'])} failed request(s): run the same command again to retry them"] if summary["errors"] else []
    notes += [f"{len(summary['skipped'])} unreadable sample(s) skipped"] if summary["skipped"] else []
    for note in notes:
        console.print(f"[yellow]{note}[/]")
    console.print(f"[dim]per-sample results: {out / 'results.jsonl'}; summary: {out / SUMMARY}[/]")
    return summary


def interleave(samples: list[Sample], limit: int | None) -> list[Sample]:
    """All samples, or ``limit`` of them taken in turn from each split so a quick run covers every split."""
    if limit is None or limit >= len(samples):
        return list(samples)
    by_split: dict[str, list[Sample]] = {}
    for sample in samples:
        by_split.setdefault(sample.split, []).append(sample)
    queues = [iter(v) for v in by_split.values()]
    chosen: list[Sample] = []
    while len(chosen) < limit:
        for queue in queues:
            if (sample := next(queue, None)) is not None and len(chosen) < limit:
                chosen.append(sample)
    return chosen
