"""Answers stopped by the token limit: the stop reason travels from the backend to the parser and the record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.models.openai import OpenAIModel
from agent.models.testing import ScriptedServer
from agent.prompt import Prompt
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.canvas import CanvasEnvironment
from environments.replay import ReplayEnvironment


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


CLICK = call(action="left_click", coordinate=[658, 364])
ANSWERS = [
    (CLICK[: CLICK.index("364") + 2], "length"),  # cut inside the y coordinate: [658, 36
    (CLICK[: CLICK.rindex("}")], "length"),  # only the call's own brace missing, but the server says "length"
    (CLICK, "stop"),
    (call(action="terminate", status="success"), "stop"),
]


@pytest.mark.parametrize(("text", "reason"), [(CLICK, "stop"), (CLICK[:20], "length")])
def test_openai_backend_reports_the_stop_reason(text: str, reason: str) -> None:
    with ScriptedServer([(text, reason)]) as server:
        generation = OpenAIModel(server.base_url, "qwen", max_retries=0).generate(Prompt("", "hi"))
    assert (generation.text, generation.finish_reason, generation.cut_off) == (text, reason, reason == "length")


def test_a_cut_off_answer_is_retried_with_feedback_and_recorded(tmp_path: Path) -> None:
    env = CanvasEnvironment(Size(1280, 720), 1.0)
    with ScriptedServer(ANSWERS) as server:
        model = OpenAIModel(server.base_url, "qwen", max_retries=0)
        result = Agent(model, env, AgentConfig(max_retries=2), TrajectoryWriter(tmp_path / "t")).run("click it")
        second_prompt = server.requests[1]["messages"][1]["content"][0]["text"]
    assert (result.outcome, result.steps) == ("success", 2)
    step = Trajectory.load(tmp_path / "t").steps[0]
    attempts = step["attempts"]
    assert [a["finish_reason"] for a in attempts] == ["length", "length", "stop"]
    assert "your answer was cut off inside a value (it ends with `" in attempts[0]["error"]
    assert "[658, 36`)" in attempts[0]["error"]
    assert "cut off" in attempts[1]["error"]  # at the token limit nothing is closed for the model
    assert "action" not in attempts[0] and "action" not in attempts[1]
    assert "Your previous answer could not be used: your answer was cut off" in second_prompt
    assert env.events[0][0] == "left_click" and env.events[0][1].x == pytest.approx(658 * 1280 / step["geometry"]["model"][0])


def test_a_recorded_stop_reason_replays(tmp_path: Path) -> None:
    env = CanvasEnvironment(Size(1280, 720), 1.0)
    Agent(ReplayModel([t for t, _ in ANSWERS], finish_reasons=[r for _, r in ANSWERS]), env, AgentConfig(max_retries=2),
          TrajectoryWriter(tmp_path / "rec")).run("click it")
    model = ReplayModel.from_trajectory(tmp_path / "rec")
    assert model.finish_reasons == ["length", "length", "stop", "stop"]
    result = Agent(model, ReplayEnvironment(tmp_path / "rec"), AgentConfig(max_retries=2),
                   TrajectoryWriter(tmp_path / "again")).run("click it")
    assert (result.outcome, result.steps) == ("success", 2)  # the second answer is refused again, as recorded
    # without the stop reason the second answer (only its own brace missing) would have been used
    loose = ReplayModel([t for t, _ in ANSWERS])
    Agent(loose, CanvasEnvironment(Size(1280, 720), 1.0), AgentConfig(max_retries=2),
          TrajectoryWriter(tmp_path / "loose")).run("click it")
    assert [len(s["attempts"]) for s in Trajectory.load(tmp_path / "loose").steps] == [2, 1, 1]
