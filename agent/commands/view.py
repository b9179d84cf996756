"""Write an HTML report of a run or an evaluation (screenshots with where the agent acted, model text, timings)."""

from __future__ import annotations

import argparse
import webbrowser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="a run's directory (run.json) or an evaluation's (results.jsonl)")
    parser.add_argument("--open", action="store_true", help="open the report in the default web browser")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="a run's report elsewhere than DIR/report.html (screenshots are linked relatively)")


def main(args: argparse.Namespace) -> int:
    from agent.viewer import write_report

    path = write_report(args.dir, args.out).resolve()
    print(path)
    if args.open:
        webbrowser.open(path.as_uri())
    return 0
