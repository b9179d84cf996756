"""The gui-agent command as a user runs it: real subprocesses, real loopback server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.models.testing import ScriptedServer
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.canvas import CanvasEnvironment


def gui_agent(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "160", "HF_HUB_OFFLINE": "1"})


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


@pytest.fixture
def session(tmp_path: Path) -> Path:
    env = CanvasEnvironment(Size(1280, 720))
    env.show_target((600, 300, 680, 380))
    texts = [call(action="left_click", coordinate=[658, 344]), call(action="type", text="hi"), call(action="terminate", status="success")]
    Agent(ReplayModel(texts), env, AgentConfig(), TrajectoryWriter(tmp_path / "session")).run("click the square, say hi")
    return tmp_path / "session"


def test_help_lists_commands() -> None:
    out = gui_agent("--help")
    assert out.returncode == 0
    for command in ("run", "replay", "demo", "eval"):
        assert command in out.stdout
    run_help = gui_agent("run", "--help").stdout
    assert "--env" in run_help and "--base-url" in run_help and "--from" in run_help


def test_replay_matches(session: Path, tmp_path: Path) -> None:
    out = gui_agent("replay", str(session), "--out", str(tmp_path / "again"))
    assert out.returncode == 0, out.stderr
    assert "replay matches: 3 steps, outcome success" in out.stderr
    assert Trajectory.load(tmp_path / "again").result["outcome"] == "success"


def test_replay_of_a_tampered_session_differs(session: Path) -> None:
    steps = (session / "steps.jsonl").read_text().splitlines()
    first = json.loads(steps[0])
    first["screen_points"]["coordinate"][0] += 40  # as if the mapping had changed since recording
    (session / "steps.jsonl").write_text("\n".join([json.dumps(first), *steps[1:]]) + "\n")
    out = gui_agent("replay", str(session))
    assert out.returncode == 1 and "replay differs" in out.stderr and "ReplayMismatch" in out.stderr


def test_replay_of_a_non_session_is_a_usage_error(tmp_path: Path) -> None:
    out = gui_agent("replay", str(tmp_path))
    assert out.returncode == 2 and "has no run.json" in out.stderr


def test_run_env_replay_scores_a_new_model(session: Path, tmp_path: Path) -> None:
    answers = [call(action="left_click", coordinate=[640, 340]), call(action="type", text="hi"), call(action="terminate", status="success")]
    with ScriptedServer(answers, models=("new-model",)) as server:
        out = gui_agent("run", "click the square, say hi", "--env", "replay", "--from", str(session),
                        "--base-url", server.base_url, "--model", "new-model", "--out", str(tmp_path / "eval"))
    assert out.returncode == 0, out.stderr
    result = Trajectory.load(tmp_path / "eval").result
    assert result["info"]["matched_steps"] == 3 and result["info"]["step_accuracy"] == 1.0
    assert "success" in out.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--env", "replay"], "--env replay needs --from DIR"),
    (["--env", "replay", "--from", "/nonexistent"], "is not a recorded session"),
    (["--env", "canvas"], "invalid choice"),
])
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    out = gui_agent("run", "x", *args, "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert out.returncode == 2 and message in out.stderr


def test_unreachable_server_exits_2_and_keeps_the_trajectory(session: Path, tmp_path: Path) -> None:
    out = gui_agent("run", "x", "--env", "replay", "--from", str(session), "--base-url", "http://127.0.0.1:9/v1",
                    "--model", "m", "--out", str(tmp_path / "o"))
    assert out.returncode == 2 and "cannot reach the model server" in out.stderr
    assert Trajectory.load(tmp_path / "o").result["outcome"] == "error"


def test_base_url_needs_model() -> None:
    out = gui_agent("run", "x", "--env", "replay", "--from", "/x", "--base-url", "http://127.0.0.1:9/v1")
    assert out.returncode == 2 and "--base-url needs --model NAME" in out.stderr
