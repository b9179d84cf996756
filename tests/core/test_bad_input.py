"""Nonsense options, a used --out and other user mistakes: exit 2 with a sentence, no traceback, nothing left."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent.errors import ConfigError, OutputExistsError
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import TrajectoryWriter, write_json_atomic
from environments.canvas import CanvasEnvironment

ROOT = Path(__file__).resolve().parents[2]


def gui_agent(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "160", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


@pytest.fixture
def one_step_session(tmp_path: Path) -> Path:
    Agent(ReplayModel([call(action="terminate", status="success")]), CanvasEnvironment(Size(640, 480)), AgentConfig(),
          TrajectoryWriter(tmp_path / "session")).run("stop at once")
    return tmp_path / "session"


@pytest.mark.parametrize(("option", "message"), [
    (["--max-steps", "0"], "--max-steps: must be at least 1, got 0"),
    (["--max-steps", "-3"], "--max-steps: must be at least 1, got -3"),
    (["--max-retries", "-1"], "--max-retries: must be 0 or more, got -1"),
    (["--history-images", "0"], "--history-images: must be at least 1, got 0"),
    (["--adb-settle", "-1"], "--adb-settle: must be 0 or more, got -1"),
    (["--timeout", "0"], "--timeout: must be more than 0, got 0"),
    (["--min-pixels", "200000", "--max-pixels", "100000"], "--max-pixels (100000) is below --min-pixels (200000)"),
])
def test_nonsense_values_exit_2_before_anything_is_written(option: list[str], message: str, one_step_session: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = gui_agent("run", "x", "--env", "replay", "--from", str(one_step_session), "--base-url",
                       "http://127.0.0.1:9/v1", "--model", "m", "--out", str(out), *option)
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr
    assert not out.exists()  # no empty screenshots/ left behind


def test_agent_config_refuses_the_same_nonsense_from_python() -> None:
    for bad in ({"max_steps": -1}, {"max_retries": -1}, {"history_images": 0}, {"min_pixels": 10, "max_pixels": 5}):
        with pytest.raises(ConfigError):
            AgentConfig(**bad)
    with pytest.raises(ConfigError, match="--max-steps must be at least 1, got 0"):
        Agent(ReplayModel([]), CanvasEnvironment(Size(64, 64)), AgentConfig(max_steps=0))


def test_a_used_out_is_refused_before_the_environment_starts(one_step_session: Path) -> None:
    """Without $DISPLAY the desktop would stop with its own message; the used --out must be found first."""
    result = gui_agent("run", "x", "--env", "desktop", "--out", str(one_step_session), "--base-url",
                       "http://127.0.0.1:9/v1", "--model", "m")
    assert result.returncode == 2 and "already holds a recorded run" in result.stderr, result.stderr
    assert "DISPLAY" not in result.stderr and "Traceback" not in result.stderr


def test_replay_into_a_used_out_exits_2(one_step_session: Path) -> None:
    result = gui_agent("replay", str(one_step_session), "--out", str(one_step_session))
    assert result.returncode == 2 and "already holds a recorded run" in result.stderr
    assert "Traceback" not in result.stderr


def test_trajectory_writer_raises_a_config_error_that_is_still_a_file_exists_error(one_step_session: Path) -> None:
    with pytest.raises(OutputExistsError) as caught:
        TrajectoryWriter(one_step_session)
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, FileExistsError)


def test_version_and_help_defaults() -> None:
    version = gui_agent("--version")
    assert version.returncode == 0 and version.stdout.startswith("gui-agent ") and version.stdout.split()[1][0].isdigit()
    help_text = " ".join(gui_agent("run", "--help").stdout.split())
    for default in ("re-asks per step after an unusable answer (default 2)",
                    "screenshots in the prompt, newest last (default 1)",
                    "seconds a model request may take, retries included (server; default 120)"):
        assert default in help_text


def test_one_step_is_singular(one_step_session: Path, tmp_path: Path) -> None:
    result = gui_agent("replay", str(one_step_session), "--out", str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "replay matches: 1 step, outcome success" in text and "after 1 step:" in text and "1 steps" not in text


def test_json_files_follow_the_umask(tmp_path: Path, one_step_session: Path) -> None:
    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "a.json", {"a": 1})
        assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
        os.umask(0o002)
        write_json_atomic(tmp_path / "b.json", {"b": 1})
        assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o664
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in one_step_session.iterdir() if p.is_file()}
    assert len(set(modes.values())) == 1, modes  # run.json and result.json like steps.jsonl


def test_every_option_with_a_default_says_it_in_its_help() -> None:
    """Every subcommand, present and future: an option whose default is not 'off' or 'none' names it."""
    import argparse

    from agent.cli import build_parser

    def walk(parser: argparse.ArgumentParser, name: str = ""):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, child in action.choices.items():
                    yield from walk(child, f"{name} {sub}".strip())
            elif (action.option_strings and action.default not in (None, False, [], argparse.SUPPRESS)
                  and action.help is not argparse.SUPPRESS and "default" not in (action.help or "").lower()):
                yield f"{name} {action.option_strings[-1]} (default {action.default!r})"

    assert list(walk(build_parser())) == []


@pytest.mark.parametrize("argv", [
    ["ground", "shot.png", "the button", "--retries", "-1"],
    ["detect", "shot.png", "--retries", "-2"],
    ["describe", "clip.mp4", "--fps", "0"],
    ["describe", "clip.mp4", "--max-frames", "0"],
    ["eval", "android", "--adb-settle", "-1"],
    ["eval", "miniwob", "--max-retries", "-1"],
    ["run", "x", "--env", "browser", "--device-scale-factor", "0"],
    ["make-grounding-set", "--demo", "--device-scale-factor", "-1"],
])
def test_other_commands_refuse_nonsense_too(argv: list[str]) -> None:
    result = gui_agent(*argv)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "must be" in result.stderr, result.stderr
