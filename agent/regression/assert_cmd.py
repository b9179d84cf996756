"""Add an assertion to a recorded session (``gui-agent assert DIR ...``), checked by every live replay."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from agent.errors import ConfigError
from agent.regression import assertions as checks
from agent.regression.cli import parse_box
from agent.regression.similarity import DEFAULT_THRESHOLD

console = Console(stderr=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="recorded session")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="this text is visible (needs --after-step)")
    what.add_argument("--url-pattern", help="the URL matches this regular expression (after --after-step, or at the end)")
    what.add_argument("--final-screen", action="store_true", help="the final screen matches the recording's")
    what.add_argument("--list", action="store_true", help="show the session's assertions")
    parser.add_argument("--after-step", type=int, default=None, metavar="N")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help=f"--final-screen similarity (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--mask", action="append", default=[], metavar="X0,Y0,X1,Y1")
    parser.add_argument("--mask-selector", action="append", default=[], metavar="CSS")


def main(args: argparse.Namespace) -> int:
    session = Path(args.dir)
    if not (session / "run.json").is_file():
        raise ConfigError(f"{session} is not a recorded session: it has no run.json")
    if args.list:
        for a in checks.load(session):
            console.print(a.describe(), highlight=False)
        return 0
    if args.text is not None:
        if args.after_step is None:
            raise ConfigError("--text needs --after-step N: the step after which the text must be visible")
        assertion = checks.TextVisible(after_step=args.after_step, text=args.text)
    elif args.url_pattern is not None:
        import re

        try:
            re.compile(args.url_pattern)
        except re.error as exc:
            raise ConfigError(f"--url-pattern {args.url_pattern!r} is not a regular expression: {exc}") from None
        assertion = checks.UrlMatches(pattern=args.url_pattern, after_step=args.after_step)
    else:
        assertion = checks.FinalScreen(threshold=args.threshold, masks=[parse_box(m) for m in args.mask],
                                       mask_selectors=list(args.mask_selector))
    checks.add(session, assertion)
    console.print(f"added: {assertion.describe()}", highlight=False)
    return 0
