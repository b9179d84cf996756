"""The loop end to end on the canvas environment: outcomes, retries with feedback, recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.errors import EnvironmentFailure
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.base import StepResult
from environments.canvas import CanvasEnvironment


def call(tool: str = "computer_use", **arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': tool, 'arguments': arguments})}\n</tool_call>"


TERMINATE = call(action="terminate", status="success")


def run(texts: list[str], tmp_path: Path, env=None, **config):
    env = env or CanvasEnvironment(Size(1280, 720), 1.5)
    model = ReplayModel(texts)
    result = Agent(model, env, AgentConfig(**config), TrajectoryWriter(tmp_path / "t")).run("do the thing")
    return result, Trajectory.load(tmp_path / "t"), model, env


def test_success_records_every_step(tmp_path: Path) -> None:
    result, t, _, env = run([call(action="left_click", coordinate=[658, 364]), call(action="type", text="hi"), TERMINATE], tmp_path)
    assert (result.outcome, result.steps, result.exit_code) == ("success", 3, 0)
    assert [s["action"]["action"] for s in t.steps] == ["left_click", "type", "terminate"]
    first = t.steps[0]
    assert first["geometry"] == {"screenshot": [1920, 1080], "input": [1280, 720], "model": [1316, 728], "origin": [0, 0]}
    assert first["model_points"]["coordinate"] == [658, 364]
    assert first["screen_points"]["coordinate"] == pytest.approx([658 * 1280 / 1316, 364 * 720 / 728])
    assert first["image_tokens"] == 47 * 26
    assert {"resize", "prompt", "model", "parse", "execute", "save_screenshot"} <= set(first["timings"])
    assert (t.path / first["screenshot"]).is_file()
    assert t.result["outcome"] == "success" and t.result["steps"] == 3
    assert env.events[0][0] == "left_click"
    assert env.events[0][1].x == pytest.approx(658 * 1280 / 1316)


def test_failure_status(tmp_path: Path) -> None:
    result, *_ = run([call(action="terminate", status="failure")], tmp_path)
    assert (result.outcome, result.exit_code) == ("failure", 1)


def test_step_limit(tmp_path: Path) -> None:
    result, t, model, _ = run([call(action="wait", time=0)] * 5, tmp_path, max_steps=3)
    assert result.outcome == "step_limit" and result.steps == 3 and model.calls == 3
    assert t.result["outcome"] == "step_limit"


def test_unusable_answers_are_fed_back_then_retried(tmp_path: Path) -> None:
    texts = ["I'd rather not.", call(action="left_click", coordinate=[5000, 10]), call(action="fly"), TERMINATE]
    result, t, model, _ = run(texts, tmp_path, max_retries=3)
    assert result.outcome == "success" and result.steps == 1
    attempts = t.steps[0]["attempts"]
    assert [a.get("error", "")[:20] for a in attempts] == ["no tool call found; ", "coordinate [5000, 10", "unknown action 'fly'", ""]
    # each retry's prompt carried the previous error
    assert "no tool call found" in model.prompts[1].user
    assert "is outside the screenshot, whose resolution is 1316x728" in model.prompts[2].user
    assert "unknown action 'fly'" in model.prompts[3].user


def test_retries_are_bounded(tmp_path: Path) -> None:
    result, t, model, _ = run(["nope"] * 10, tmp_path, max_retries=2)
    assert (result.outcome, result.error, result.fault) == ("failure", "ParseError", "model")
    assert "no usable answer in 3 tries" in result.reason and result.exit_code == 1
    assert t.result["outcome"] == "failure" and t.result["error"] == "ParseError" and "exception" not in t.result
    assert model.calls == 3 and len(t.steps[0]["attempts"]) == 3


def test_history_holds_previous_actions(tmp_path: Path) -> None:
    _, _, model, _ = run([call(action="key", keys=["ctrl", "a"]), TERMINATE], tmp_path)
    assert 'Step 1: {"name": "computer_use", "arguments": {"action": "key", "keys": ["ctrl", "a"]}}; ' in model.prompts[1].user


def test_history_images_keep_the_newest(tmp_path: Path) -> None:
    _, _, model, _ = run([call(action="wait", time=0)] * 3 + [TERMINATE], tmp_path, history_images=2)
    assert [len(p.images) for p in model.prompts] == [1, 2, 2, 2]


def test_environment_done_ends_the_episode(tmp_path: Path) -> None:
    class Finishing(CanvasEnvironment):
        def execute(self, command):
            super().execute(command)
            return StepResult(done=True, outcome="success", reason="task complete", info={"reward": 1.0})

    result, t, *_ = run([call(action="left_click")], tmp_path, env=Finishing())
    assert (result.outcome, result.reason, result.info) == ("success", "task complete", {"reward": 1.0})


def test_environment_failure_ends_with_error_and_keeps_the_trajectory(tmp_path: Path) -> None:
    class Crashing(CanvasEnvironment):
        def execute(self, command):
            if command.name == "type":
                raise EnvironmentFailure("the browser closed")
            return super().execute(command)

    result, t, *_ = run([call(action="left_click"), call(action="type", text="x"), TERMINATE], tmp_path, env=Crashing())
    assert result.outcome == "error" and "the browser closed" in result.reason
    assert len(t.steps) == 2 and t.result["outcome"] == "error"


def test_answer_is_kept(tmp_path: Path) -> None:
    result, *_ = run([call(action="answer", text="42"), TERMINATE], tmp_path)
    assert result.answer == "42"


def test_several_calls_execute_the_first_and_say_so(tmp_path: Path) -> None:
    result, t, _, env = run([call(action="left_click", coordinate=[1, 1]) + call(action="type", text="x"), TERMINATE], tmp_path)
    assert t.steps[0]["attempts"][0]["ignored_calls"] == 1
    assert [e[0] for e in env.events] == ["left_click"]


def test_mobile_tool_on_a_mobile_environment(tmp_path: Path) -> None:
    env = CanvasEnvironment(Size(1080, 2400), 1.0, tool="mobile_use")
    result, t, model, _ = run([call("mobile_use", action="click", coordinate=[100, 200]), call("mobile_use", action="terminate", status="success")], tmp_path, env=env)
    assert result.outcome == "success"
    assert '"name": "mobile_use"' in model.prompts[0].system
    assert t.steps[0]["geometry"]["model"] == [672, 1484]


def test_wrong_function_name_is_fed_back(tmp_path: Path) -> None:
    result, t, model, _ = run([call("mobile_use", action="click", coordinate=[1, 1]), TERMINATE], tmp_path)
    assert "unknown function 'mobile_use'; call computer_use" in model.prompts[1].user
