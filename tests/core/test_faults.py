"""Injected faults end as promised: bounded retries, then a clear outcome with its reason, the trajectory
intact (readable, result.json written, replayable), and an eval that resumes exactly the unfinished units.

Model faults through `agent.models.faults.FaultyModel`, screen faults through `environments.faults`, HTTP
faults at a real loopback server with the real client. The browser and the phone have their own files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from agent.errors import ModelUnavailableError
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.models.faults import FaultyModel
from agent.models.openai import OpenAIModel
from agent.models.testing import ScriptedServer
from agent.replay import replay_session
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.canvas import CanvasEnvironment
from environments.faults import FaultyEnvironment, black_frame, screenshot_fails
from tasks.runner import load_results, plan, run_units


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


CLICK, DONE = call(action="left_click", coordinate=[100, 100]), call(action="terminate", status="success")


def _run(tmp_path: Path, model, env=None, **config):
    env = env or CanvasEnvironment(Size(640, 480))
    result = Agent(model, env, AgentConfig(**config), TrajectoryWriter(tmp_path / "run")).run("click, then stop")
    return result, Trajectory.load(tmp_path / "run")


def _replays(tmp_path: Path) -> bool:
    return replay_session(tmp_path / "run", tmp_path / "replay", Console(file=io.StringIO())) == 0


def test_a_model_timeout_ends_the_episode_as_an_error_with_the_trajectory_intact(tmp_path: Path) -> None:
    model = FaultyModel(ReplayModel([CLICK, DONE]), {2: "timeout"})
    result, trajectory = _run(tmp_path, model)
    assert result.outcome == "error" and model.calls == 2
    assert (result.error, result.fault) == ("ModelTimeout", "server") and result.reason.startswith("ModelTimeout")
    assert trajectory.result["outcome"] == "error" and len(trajectory.steps) == 2 and not trajectory.torn
    assert trajectory.steps[0]["action"]["action"] == "left_click" and "action" not in trajectory.steps[1]
    assert _replays(tmp_path)  # what it did record replays: one click, then the point where the server hung


@pytest.mark.parametrize("fault", ["garbage", "empty", "cut_off"])
def test_unusable_answers_are_retried_a_bounded_number_of_times_with_feedback(tmp_path: Path, fault: str) -> None:
    model = FaultyModel(ReplayModel([]), lambda n: fault)
    result, trajectory = _run(tmp_path, model, max_retries=2)
    assert model.calls == 3 and result.outcome != "success"  # 1 + --max-retries tries, then it stops
    assert "no usable answer in 3 tries" in result.reason
    attempts = trajectory.steps[0]["attempts"]
    assert len(attempts) == 3 and attempts[0]["feedback"] is None and all(a["feedback"] for a in attempts[1:])
    assert trajectory.result["outcome"] == result.outcome
    assert _replays(tmp_path)  # the same texts give the same failure


def test_a_failed_screenshot_ends_the_episode_as_an_error(tmp_path: Path) -> None:
    env = FaultyEnvironment(CanvasEnvironment(Size(640, 480)), {("observe", 1): screenshot_fails})
    result, trajectory = _run(tmp_path, ReplayModel([CLICK, DONE]), env)
    assert result.outcome == "error" and "EnvironmentFailure: the screenshot could not be taken" in result.reason
    assert result.steps == 1 and trajectory.result["outcome"] == "error" and len(trajectory.steps) == 1
    assert env.injected == [("observe", 1)]


def test_a_black_frame_reaches_the_model_and_the_trajectory_as_it_was(tmp_path: Path) -> None:
    env = FaultyEnvironment(CanvasEnvironment(Size(640, 480)), {("observe", 1): black_frame})
    result, trajectory = _run(tmp_path, ReplayModel([CLICK, DONE]), env)
    assert result.outcome == "success" and len(trajectory.steps) == 2
    assert trajectory.steps[1]["observation"]["injected_fault"] == "black_frame"
    assert np.asarray(trajectory.screenshot(trajectory.steps[1])).max() <= 8  # black (JPEG noise aside)
    assert np.asarray(trajectory.screenshot(trajectory.steps[0])).max() > 100


def test_http_500_is_retried_then_answers(tmp_path: Path) -> None:
    with ScriptedServer([CLICK, DONE], fail_first=2, fail_status=500) as server:
        result, _ = _run(tmp_path, OpenAIModel(server.base_url, "qwen", retry_wait=0.01, check_resolution=False))
    assert result.outcome == "success" and len(server.requests) == 4  # 2 failures, then the 2 answers


def test_http_500_that_persists_stops_with_a_clear_error_and_keeps_the_trajectory(tmp_path: Path) -> None:
    with ScriptedServer([DONE], fail_first=1000, fail_status=500) as server:
        model = OpenAIModel(server.base_url, "qwen", max_retries=2, retry_wait=0.01, check_resolution=False)
        with pytest.raises(ModelUnavailableError, match="kept failing.*HTTP 500"):
            _run(tmp_path, model)
        assert len(server.requests) == 3  # bounded: 1 + 2 retries
    trajectory = Trajectory.load(tmp_path / "run")
    assert trajectory.result["outcome"] == "error" and "HTTP 500" in trajectory.result["reason"]


def test_an_eval_with_faulty_units_resumes_exactly_those(tmp_path: Path) -> None:
    """Unit 1 meets a model timeout, unit 3 a failed screenshot; a resume with --retry-errors reruns just them."""
    quiet = Console(file=io.StringIO())
    faults = {"t#1": "model", "t#3": "screen"}

    def run_one(unit, directory, faulty=True):
        model, env = ReplayModel([CLICK, DONE]), CanvasEnvironment(Size(320, 240))
        if faulty and faults.get(unit.key) == "model":
            model = FaultyModel(model, {1: "timeout"})
        if faulty and faults.get(unit.key) == "screen":
            env = FaultyEnvironment(env, {("reset", 1): screenshot_fails})
        result = Agent(model, env, AgentConfig(), TrajectoryWriter(directory)).run("x")
        return {"outcome": result.outcome, "reason": result.reason, "steps": result.steps}

    run_units(plan(["t"], 5), run_one, tmp_path, console=quiet)
    assert [r["outcome"] for r in load_results(tmp_path)] == ["success", "error", "success", "error", "success"]
    rerun: list[str] = []

    def healthy(unit, directory):
        rerun.append(unit.key)
        return run_one(unit, directory, faulty=False)

    records = run_units(plan(["t"], 5), healthy, tmp_path, console=quiet, retry_errors=True)
    assert rerun == ["t#1", "t#3"] and all(r["outcome"] == "success" for r in records)
    assert (tmp_path / "t-001.attempt-1" / "result.json").is_file()  # the failed attempt is kept aside
