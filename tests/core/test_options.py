"""Configuration flows one way: shared options in agent.options, suites never import the CLI or edit
another parser's actions, pixel limits validated once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agent.cli import build_parser
from agent.errors import ConfigError
from agent.geometry import MAX_PIXELS
from agent.options import PixelLimits, agent_config, pixel_limits

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    return names | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}


def test_task_and_environment_code_does_not_import_the_cli() -> None:
    offenders = [str(p.relative_to(ROOT)) for folder in ("tasks", "environments", "tools")
                 for p in (ROOT / folder).rglob("*.py") if "agent.cli" in imported_modules(p)]
    assert offenders == []


def test_no_code_edits_a_parsers_private_actions() -> None:
    offenders = [str(p.relative_to(ROOT)) for folder in ("agent", "tasks", "environments")
                 for p in (ROOT / folder).rglob("*.py")
                 if any(isinstance(n, ast.Attribute) and n.attr == "_actions" for n in ast.walk(ast.parse(p.read_text())))]
    assert offenders == []


def test_suites_set_their_own_defaults_through_the_shared_options() -> None:
    parser = build_parser()
    screenspot = parser.parse_args(["eval", "screenspot", "--data", "d"])
    run = parser.parse_args(["run", "x", "--env", "browser"])
    assert screenspot.max_pixels == 12_845_056 and run.max_pixels == MAX_PIXELS


def test_pixel_limits_are_checked_once_and_shared() -> None:
    args = build_parser().parse_args(["run", "x", "--env", "browser", "--min-pixels", "6272", "--max-pixels", "9000"])
    pixels = pixel_limits(args)
    config = agent_config(args, pixels)
    assert (config.min_pixels, config.max_pixels) == (pixels.min_pixels, pixels.max_pixels) == (6272, 9000)
    with pytest.raises(ConfigError, match="below --min-pixels"):
        PixelLimits(9000, 6272)
