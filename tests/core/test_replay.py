"""Replaying a recorded session offline, strictly; and scoring a new model on recorded screenshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.errors import ReplayMismatch
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.canvas import CanvasEnvironment
from environments.replay import ReplayEnvironment, ReplayEvaluation


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


RECORDED = [
    call(action="left_click", coordinate=[100, 100]),
    "not a tool call",  # a retry is part of the recording too
    call(action="type", text="hello"),
    call(action="scroll", pixels=-200),
    call(action="terminate", status="success"),
]


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    env = CanvasEnvironment(Size(1280, 720), 2.0)
    env.show_target((80, 80, 120, 120))
    Agent(ReplayModel(RECORDED), env, AgentConfig(), TrajectoryWriter(tmp_path / "rec")).run("fill the form")
    return tmp_path / "rec"


def test_recorded_session_replays_deterministically(recording: Path, tmp_path: Path) -> None:
    for i in range(2):
        env = ReplayEnvironment(recording)
        result = Agent(ReplayModel.from_trajectory(recording), env, AgentConfig(), TrajectoryWriter(tmp_path / f"r{i}")).run("fill the form")
        assert (result.outcome, result.steps) == ("success", 4)
        assert env.index == 4
    a, b = (Trajectory.load(tmp_path / f"r{i}") for i in range(2))
    keys = ("index", "geometry", "attempts", "action", "model_points", "screen_points", "result", "image_tokens")
    strip = lambda t: [{k: s.get(k) for k in keys} for s in t.steps]  # noqa: E731
    assert strip(a) == strip(b) == strip(Trajectory.load(recording))


def test_a_different_action_is_a_mismatch(recording: Path, tmp_path: Path) -> None:
    texts = [call(action="left_click", coordinate=[101, 100])] + RECORDED[1:]
    result = Agent(ReplayModel(texts), ReplayEnvironment(recording), AgentConfig(), TrajectoryWriter(tmp_path / "x")).run("x")
    assert result.outcome == "error" and "ReplayMismatch" in result.reason and "step 1" in result.reason


def test_scoring_a_new_model_on_recorded_screenshots(recording: Path, tmp_path: Path) -> None:
    answers = [
        call(action="left_click", coordinate=[110, 95]),  # inside the recorded target box
        call(action="type", text="HELLO "),  # same text after trimming and case-folding
        call(action="scroll", pixels=300),  # the wrong way
        call(action="terminate", status="success"),
    ]
    env = ReplayEvaluation(recording)
    result = Agent(ReplayModel(answers), env, AgentConfig(), TrajectoryWriter(tmp_path / "e")).run("fill the form")
    assert [s["match"] for s in env.scores] == [True, True, False, True]
    assert env.scores[2]["why"] == "scrolls the other way"
    assert result.outcome == "failure" and result.info["matched_steps"] == 3  # the default needs every step
    assert result.info["step_accuracy"] == pytest.approx(0.75)
    lenient = ReplayEvaluation(recording, min_accuracy=0.75)
    result = Agent(ReplayModel(answers), lenient, AgentConfig(), TrajectoryWriter(tmp_path / "l")).run("fill the form")
    assert result.outcome == "success" and result.reason.startswith("3 of 4 recorded steps matched (75%")


def test_click_outside_the_recorded_target_does_not_match(recording: Path, tmp_path: Path) -> None:
    env = ReplayEvaluation(recording)
    Agent(ReplayModel([call(action="left_click", coordinate=[200, 200]), call(action="terminate", status="failure")]),
          env, AgentConfig(), TrajectoryWriter(tmp_path / "e")).run("x")
    assert env.scores[0] == {"step": 1, "match": False, "why": "click outside the recorded target",
                             "expected": {"action": "left_click", "coordinate": [100.0, 100.0]},
                             "got": {"action": "left_click", "coordinate": [200.0, 200.0]}}
    assert env.summary()["matched_steps"] == 0


def test_empty_recording_is_refused(tmp_path: Path) -> None:
    w = TrajectoryWriter(tmp_path)
    w.start({"tool": "computer_use"})
    w.finish({})
    with pytest.raises(ReplayMismatch, match="no recorded steps"):
        ReplayEnvironment(tmp_path)
