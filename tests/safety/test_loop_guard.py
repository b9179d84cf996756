"""The loop guard with scripted models that loop, ping-pong between two screens, make useless moves,
or make real progress with the same action."""

from __future__ import annotations

from pathlib import Path

from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.safety import LoopGuard
from tests.safety.screens import ScreensApp, call, click

TERMINATE = call(action="terminate", status="success")


def run(tmp_path: Path, texts: list[str], guard: bool = True, max_steps: int = 30, caret: bool = False, **options):
    app = ScreensApp(caret=caret)
    env = LoopGuard(app, **options) if guard else app
    model = ReplayModel(texts, keep_prompts=100)
    result = Agent(model, env, AgentConfig(max_steps=max_steps), TrajectoryWriter(tmp_path / "run")).run("do it")
    return result, Trajectory.load(tmp_path / "run"), model, app


def test_a_model_repeating_a_useless_click_is_told_then_stopped(tmp_path: Path) -> None:
    result, t, model, app = run(tmp_path, [call(action="left_click", coordinate=[500, 300])] * 20)
    assert (result.outcome, result.steps, model.calls) == ("stuck", 6, 6)
    assert result.exit_code == 1 and "same action on the same screen 6 times" in result.reason
    assert [s["result"]["info"]["guard"]["changed"] for s in t.steps] == [False] * 6
    assert [s["result"]["info"]["guard"]["repeats"] for s in t.steps] == [1, 2, 3, 4, 5, 6]
    assert "the screen did not change" in model.prompts[1].user  # told after the first no-op
    assert "you have done this" not in model.prompts[2].user
    assert "you have done this 3 times on this same screen; try something different" in model.prompts[3].user
    assert t.result["outcome"] == "stuck"


def test_without_the_guard_the_same_model_burns_the_whole_budget(tmp_path: Path) -> None:
    result, _, model, _ = run(tmp_path, [call(action="left_click", coordinate=[500, 300])] * 20, guard=False,
                              max_steps=12)
    assert (result.outcome, model.calls) == ("step_limit", 12)


def test_ping_pong_between_two_screens_is_stuck(tmp_path: Path) -> None:
    result, t, model, _ = run(tmp_path, [click("B"), click("A")] * 10)
    guards = [s["result"]["info"]["guard"] for s in t.steps]
    assert all(g["changed"] for g in guards)  # every click did change the screen ...
    assert [g["repeats"] for g in guards] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6]  # ... back to where it was
    assert (result.outcome, result.steps) == ("stuck", 11)
    assert "you have done this 3 times" in model.prompts[5].user


def test_useless_successful_moves_are_stuck(tmp_path: Path) -> None:
    """Different clicks, each executed fine, none changing anything."""
    texts = [call(action="left_click", coordinate=[400 + 20 * i, 200]) for i in range(10)]
    result, t, model, _ = run(tmp_path, texts)
    assert (result.outcome, result.steps) == ("stuck", 6)
    assert "6 actions in a row without changing the screen" in result.reason
    assert [s["result"]["info"]["guard"]["repeats"] for s in t.steps] == [1] * 6
    assert "3 actions in a row changed nothing; try something different" in model.prompts[3].user


def test_progress_with_the_same_action_is_not_a_loop(tmp_path: Path) -> None:
    result, t, model, app = run(tmp_path, [click("next")] * 10 + [TERMINATE])
    assert (result.outcome, app.counter) == ("success", 10)
    assert all(s["result"]["info"]["guard"]["changed"] for s in t.steps[:-1])
    assert all("did not change" not in p.user and "you have done this" not in p.user for p in model.prompts)


def test_a_two_pixel_change_counts_as_a_change(tmp_path: Path) -> None:
    result, t, model, app = run(tmp_path, [click("dot"), TERMINATE])
    assert app.dot and t.steps[0]["result"]["info"]["guard"]["changed"] is True
    assert "did not change" not in model.prompts[1].user


def test_guard_defaults_and_limits_are_options(tmp_path: Path) -> None:
    result, *_ = run(tmp_path, [call(action="left_click", coordinate=[500, 300])] * 20, warn_after=1, stop_after=2)
    assert (result.outcome, result.steps) == ("stuck", 2)
    from environments.safety.loop_guard import STOP_AFTER, WARN_AFTER

    assert (WARN_AFTER, STOP_AFTER) == (3, 6)


def test_a_blinking_caret_neither_hides_a_loop_nor_fakes_one(tmp_path: Path) -> None:
    """The caret makes every look differ a little: "changed" stays lenient, but the screen is the same one."""
    result, t, _, _ = run(tmp_path, [call(action="left_click", coordinate=[500, 300])] * 20, caret=True)
    assert (result.outcome, result.steps) == ("stuck", 6)
    assert [s["result"]["info"]["guard"]["repeats"] for s in t.steps] == [1, 2, 3, 4, 5, 6]
    result, _, _, app = run(tmp_path / "2", [click("next")] * 8 + [TERMINATE], caret=True)
    assert (result.outcome, app.counter) == ("success", 8)
