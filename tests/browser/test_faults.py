"""A browser closed under the agent (injected with `environments.faults.close_browser` on a real Chromium)
ends the episode as an error that says so, with the trajectory intact and replayable."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.replay import replay_session
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.faults import FaultyEnvironment, close_browser


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


def test_a_closed_browser_ends_the_episode_as_an_error_with_the_trajectory_intact(make_env, tmp_path: Path) -> None:
    env = FaultyEnvironment(make_env(), {("execute", 2): close_browser})
    texts = [call(action="left_click", coordinate=[100, 100]), call(action="left_click", coordinate=[200, 200]),
             call(action="terminate", status="success")]
    result = Agent(ReplayModel(texts), env, AgentConfig(max_steps=5), TrajectoryWriter(tmp_path / "run")).run("x")
    assert result.outcome == "error" and "BrowserGone" in result.reason and result.steps == 2
    trajectory = Trajectory.load(tmp_path / "run")
    assert trajectory.result["outcome"] == "error" and len(trajectory.steps) == 2 and not trajectory.torn
    assert trajectory.steps[0]["action"]["action"] == "left_click" and "action" not in trajectory.steps[1]
    assert replay_session(tmp_path / "run", tmp_path / "replay", Console(file=io.StringIO())) == 0
