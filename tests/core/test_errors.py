"""Errors keep their type to the end of an episode, and one rule turns outcomes and errors into exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.errors import (
    ActionValidationError,
    ConfigError,
    EnvironmentFailure,
    InfrastructureError,
    ModelTimeout,
    ModelUnavailableError,
    ParseError,
    ReplayMismatch,
    ServerError,
    StepBudgetExceeded,
    StepTimeout,
    fault_of,
)
from agent.exits import Exit, for_evaluation, for_exception, for_outcome
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.models.openai import OpenAIModel
from agent.models.testing import ScriptedServer
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.canvas import CanvasEnvironment
from tasks.runner import Unit, load_results, run_units


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


CLICK, DONE = call(action="left_click", coordinate=[100, 100]), call(action="terminate", status="success")


@pytest.mark.parametrize(("error", "fault", "code"), [
    (ParseError("x"), "model", Exit.NOT_DONE),
    (ActionValidationError("x"), "model", Exit.NOT_DONE),
    (StepBudgetExceeded("x"), "model", Exit.NOT_DONE),
    (EnvironmentFailure("x"), "environment", Exit.INFRASTRUCTURE),
    (ReplayMismatch("x"), "environment", Exit.INFRASTRUCTURE),
    (StepTimeout("x"), "environment", Exit.INFRASTRUCTURE),
    (ServerError("x"), "server", Exit.INFRASTRUCTURE),
    (ModelTimeout("x"), "server", Exit.INFRASTRUCTURE),
    (ConfigError("x"), "user", Exit.USAGE),
    (ModelUnavailableError("x"), "user", Exit.USAGE),
    (KeyboardInterrupt(), "user", Exit.INTERRUPTED),
])
def test_each_error_class_has_a_fault_side_and_an_exit_code(error, fault, code) -> None:
    assert fault_of(error) == fault and for_exception(error) == code


def test_timeouts_sit_in_the_taxonomy() -> None:
    assert issubclass(ModelTimeout, StepTimeout) and issubclass(ModelTimeout, ServerError)
    assert issubclass(StepTimeout, InfrastructureError) and not issubclass(StepBudgetExceeded, InfrastructureError)
    with pytest.raises(TypeError):
        for_exception(ValueError("a bug, not an error raised on purpose"))


def test_one_rule_for_outcomes() -> None:
    assert [for_outcome(o) for o in ("success", "failure", "step_limit", "stuck", "error")] == [0, 1, 1, 1, 3]
    assert for_evaluation(["success", "failure", "step_limit"]) == Exit.OK  # scores are the result
    assert for_evaluation(["success", "error"]) == Exit.INFRASTRUCTURE
    assert for_evaluation([]) == Exit.OK


def test_a_server_failing_mid_run_is_the_servers_fault_of_that_episode(tmp_path: Path) -> None:
    with ScriptedServer([CLICK], fail_after=1) as server:
        model = OpenAIModel(server.base_url, "qwen", max_retries=1, retry_wait=0.01)
        result = Agent(model, CanvasEnvironment(Size(640, 480)), AgentConfig(), TrajectoryWriter(tmp_path)).run("x")
    assert (result.outcome, result.error, result.fault) == ("error", "ServerError", "server")
    assert isinstance(result.exception, ServerError) and result.exit_code == Exit.INFRASTRUCTURE
    recorded = Trajectory.load(tmp_path).result
    assert (recorded["outcome"], recorded["error"], recorded["fault"]) == ("error", "ServerError", "server")
    steps = Trajectory.load(tmp_path).steps
    assert steps[0]["action"]["action"] == "left_click" and "action" not in steps[1]  # the step that worked is kept


def test_a_server_that_never_answered_is_the_users_to_fix() -> None:
    with pytest.raises(ModelUnavailableError):
        OpenAIModel("http://127.0.0.1:9/v1", "m", max_retries=0).generate(_prompt())


def _prompt():
    from agent.prompt import Prompt

    return Prompt("s", "u")


def test_the_runner_records_error_class_and_fault_and_goes_on(tmp_path: Path) -> None:
    def run_one(unit: Unit, directory: Path) -> dict:
        if unit.episode == 0:
            raise ServerError("HTTP 500 after 4 tries")
        return {"outcome": "success"}

    records = run_units([Unit("t", 0, 0), Unit("t", 1, 1)], run_one, tmp_path)
    assert [(r["outcome"], r.get("error"), r.get("fault")) for r in records] == [
        ("error", "ServerError", "server"), ("success", None, None)]
    assert load_results(tmp_path)[0]["fault"] == "server"
    assert for_evaluation(r["outcome"] for r in records) == Exit.INFRASTRUCTURE


def gui_agent(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "160", "HF_HUB_OFFLINE": "1"})


def test_cli_exit_codes_follow_the_rule(tmp_path: Path) -> None:
    env = CanvasEnvironment(Size(640, 480))
    Agent(ReplayModel([CLICK, CLICK, DONE]), env, AgentConfig(), TrajectoryWriter(tmp_path / "rec")).run("x")
    common = ["--env", "replay", "--from", str(tmp_path / "rec"), "--model", "qwen"]
    with ScriptedServer([CLICK], fail_after=1) as server:  # answers once, then HTTP 500 for good
        out = gui_agent("run", "x", *common, "--base-url", server.base_url, "--out", str(tmp_path / "a"))
    assert out.returncode == 3, out.stderr
    assert Trajectory.load(tmp_path / "a").result["fault"] == "server"
    with ScriptedServer(["no call here"]) as server:  # the model never gives a usable answer: its failure
        out = gui_agent("run", "x", *common, "--base-url", server.base_url, "--out", str(tmp_path / "b"),
                        "--max-retries", "0")
    assert out.returncode == 1, out.stderr
    assert Trajectory.load(tmp_path / "b").result["outcome"] == "failure"
