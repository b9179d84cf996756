"""An adb link that drops for good (the simulated phone's adb server stops, injected through
`environments.faults`): bounded reconnect tries, then the episode ends as an error with its trajectory."""

from __future__ import annotations

from pathlib import Path

from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.faults import FaultyEnvironment

CLICK = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [135, 330]}}\n</tool_call>'


def test_an_adb_disconnect_ends_the_episode_as_an_error(env, adb_server, tmp_path: Path) -> None:
    faulty = FaultyEnvironment(env, {("observe", 1): lambda _: adb_server.close()})
    result = Agent(ReplayModel([CLICK, CLICK]), faulty, AgentConfig(max_steps=5),
                   TrajectoryWriter(tmp_path / "run")).run("tap")
    assert result.outcome == "error" and "DeviceUnavailable" in result.reason and "did not come back" in result.reason
    trajectory = Trajectory.load(tmp_path / "run")
    assert trajectory.result["outcome"] == "error" and len(trajectory.steps) == 1 and not trajectory.torn
    assert trajectory.steps[0]["result"]["info"]["shell"].startswith("input tap")
    assert faulty.injected == [("observe", 1)]
