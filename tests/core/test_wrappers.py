"""The environment stack: make_env's layers, explicit unwrapped, framework actions once, dry run, the contract."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from agent.geometry import ScreenPoint, Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.base import Command, StepResult
from environments.canvas import CanvasEnvironment
from environments.conformance import assert_contract, check_contract
from environments.dryrun import DryRun
from environments.make import is_composed, make_env
from environments.replay import ReplayEnvironment
from environments.wrappers import FrameworkActions, ResetNeeded, StepLimit, Timing, Wrapper
from tools import get_tool


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


def test_make_env_stacks_the_layers_in_order(tmp_path: Path) -> None:
    canvas = CanvasEnvironment()
    env = make_env(canvas, max_steps=3, dry_run=tmp_path, outer=[Wrapper], inner=[Wrapper])
    assert env.layers() == ["StepLimit", "Wrapper", "Timing", "OrderEnforcing", "FrameworkActions", "DryRun", "Wrapper"]
    assert env.unwrapped is canvas and canvas.unwrapped is canvas and is_composed(env) and not is_composed(canvas)
    assert env.find(DryRun).directory == tmp_path and env.find(StepLimit).max_steps == 3
    assert make_env(canvas, max_steps=1, timing=False).layers() == ["StepLimit", "OrderEnforcing", "FrameworkActions"]


def test_nothing_is_forwarded_implicitly() -> None:
    env = make_env(CanvasEnvironment(), max_steps=3)
    with pytest.raises(AttributeError):
        env.events  # noqa: B018 - the adapter's attribute is reached explicitly, never by accident
    assert env.unwrapped.events == [] and env.get_wrapper_attr("events") == []
    assert env.get_wrapper_attr("max_steps") == 3  # the outermost layer that has it
    with pytest.raises(AttributeError, match="no layer"):
        env.get_wrapper_attr("page")


def test_framework_actions_never_reach_the_adapter(tmp_path: Path) -> None:
    canvas = CanvasEnvironment()
    texts = [call(action="wait", time=0.2), call(action="left_click", coordinate=[10, 10]),
             call(action="answer", text="42"), call(action="terminate", status="success")]
    started = time.perf_counter()
    result = Agent(ReplayModel(texts), canvas, AgentConfig(), TrajectoryWriter(tmp_path)).run("x")
    assert time.perf_counter() - started >= 0.2
    assert (result.outcome, result.answer, result.steps) == ("success", "42", 4)
    assert [kind for kind, _ in canvas.events] == ["left_click"]  # only the device verb
    trajectory = Trajectory.load(tmp_path)
    assert [s["result"]["info"] for s in trajectory.steps][::2] == [{"waited_s": 0.2}, {"answer": "42"}]
    assert trajectory.run["wrappers"] == ["StepLimit", "Timing", "OrderEnforcing", "FrameworkActions"]
    assert all("observe_ms" in s["observation"] for s in trajectory.steps)


def test_the_agent_uses_a_composed_environment_as_given(tmp_path: Path) -> None:
    env = make_env(CanvasEnvironment(), max_steps=2)
    agent = Agent(ReplayModel([call(action="left_click", coordinate=[5, 5])] * 5), env, AgentConfig(max_steps=20))
    assert agent.env is env
    assert agent.run("x").outcome == "step_limit"  # the stack's budget: 2 steps


def test_order_is_enforced_and_close_twice_is_harmless() -> None:
    env = make_env(CanvasEnvironment(), max_steps=3)
    with pytest.raises(ResetNeeded, match="before reset"):
        env.observe()
    env.reset()
    env.close()
    env.close()
    with pytest.raises(ResetNeeded, match="closed"):
        env.observe()


def test_dry_run_executes_nothing_and_draws_what_it_would_do(tmp_path: Path) -> None:
    canvas = CanvasEnvironment(Size(640, 360), scale=2.0)  # HiDPI: drawn in screenshot pixels
    texts = [call(action="left_click", coordinate=[644, 364]), call(action="type", text="hi"),
             call(action="terminate", status="success")]
    env = make_env(canvas, max_steps=5, dry_run=tmp_path / "dry")
    result = Agent(ReplayModel(texts), env, AgentConfig(), TrajectoryWriter(tmp_path / "t")).run("x")
    assert result.outcome == "success" and canvas.events == []
    steps = Trajectory.load(tmp_path / "t").steps
    assert steps[0]["result"]["info"]["would"] == "left_click at (320, 180)"
    assert steps[1]["result"]["info"]["would"] == "type 'hi'"
    assert sorted(p.name for p in (tmp_path / "dry").iterdir()) == ["0001-left_click.png", "0002-type.png"]
    drawn = Image.open(tmp_path / "dry" / "0001-left_click.png")
    assert drawn.size == (1280, 720)
    red = drawn.getpixel((640 + 10, 360))  # the ring around the click, at screenshot scale
    assert red[0] > 200 and red[1] < 80, red


def test_dry_run_draws_mobile_actions(tmp_path: Path) -> None:
    canvas = CanvasEnvironment(Size(360, 640), tool="mobile_use")
    env = make_env(canvas, max_steps=5, dry_run=tmp_path)
    env.reset()
    tool = get_tool("mobile_use")
    swipe = Command(tool.validate({"action": "swipe", "coordinate": [1, 1], "coordinate2": [2, 2]}),
                    ScreenPoint(100, 500), ScreenPoint(100, 100))
    assert env.execute(swipe).info["would"] == "swipe from (100, 500) to (100, 100)"
    assert env.execute(Command(tool.validate({"action": "key", "text": "volume_up"}))).info["would"] == "key volume_up"
    assert env.execute(Command(tool.validate({"action": "open", "text": "Notes"}))).info["would"] == "open 'Notes'"
    assert env.execute(Command(tool.validate({"action": "system_button", "button": "Back"}))).info["would"] == "press Back"
    assert canvas.events == []


def test_replay_environments_see_every_action() -> None:
    """A replay compares terminate/answer/wait with the recording too, so it gets no FrameworkActions."""

    class Unrecorded(ReplayEnvironment):
        def __init__(self) -> None:  # no recording needed to see the layers
            pass

    assert make_env(Unrecorded(), max_steps=1, dry_run="x").layers() == ["StepLimit", "Timing", "OrderEnforcing"]
    assert FrameworkActions.__mro__[1] is Wrapper


def test_timing_reports_observe_time() -> None:
    env = Timing(CanvasEnvironment())
    assert env.reset().info["observe_ms"] >= 0 and "observe_ms" in env.observe().info


def test_canvas_keeps_the_contract() -> None:
    assert check_contract(CanvasEnvironment()) == []
    assert_contract(CanvasEnvironment(tool="mobile_use"))


def test_the_contract_check_catches_a_broken_adapter() -> None:
    class Sloppy(CanvasEnvironment):
        def execute(self, command):  # accepts anything, and chokes on a second close
            return StepResult()

        def close(self) -> None:
            if getattr(self, "closed", False):
                raise RuntimeError("already closed")
            self.closed = True

    problems = check_contract(Sloppy())
    assert "an unsupported action was accepted" in problems
    assert problems[1:] == ["the second close() raised RuntimeError: already closed"]
