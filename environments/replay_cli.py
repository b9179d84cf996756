"""``--env replay --from DIR``: a new model answers on a recorded session's screenshots, scored per step."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.errors import ConfigError
from environments.replay import DEFAULT_RADIUS, ReplayEvaluation


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--from", dest="replay_from", metavar="DIR", help="recorded session to evaluate on (--env replay)")
    group.add_argument("--radius", type=float, default=DEFAULT_RADIUS,
                       help="a click with no recorded target box counts within this normalised distance (default 0.14)")


def from_args(args: argparse.Namespace) -> ReplayEvaluation:
    if not args.replay_from:
        raise ConfigError("--env replay needs --from DIR: a recorded session directory (one with run.json)")
    if not (Path(args.replay_from) / "run.json").is_file():
        raise ConfigError(f"{args.replay_from} is not a recorded session: it has no run.json")
    return ReplayEvaluation(args.replay_from, radius=args.radius)
