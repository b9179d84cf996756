"""``--env replay`` scoring: the score and each step's verdict are printed, the exit code follows
--min-accuracy, and result.json keeps the score however the run ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.models.testing import ScriptedServer
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.canvas import CanvasEnvironment
from tests.core.test_bad_input import gui_agent


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


RECORDED = [call(action="left_click", coordinate=[658, 344]), call(action="type", text="hi"),
            call(action="key", keys=["Return"]), call(action="terminate", status="success")]


@pytest.fixture
def session(tmp_path: Path) -> Path:
    env = CanvasEnvironment(Size(1280, 720))
    env.show_target((600, 300, 680, 380))
    Agent(ReplayModel(RECORDED), env, AgentConfig(), TrajectoryWriter(tmp_path / "session")).run("click, type, enter")
    return tmp_path / "session"


def _score(session: Path, out: Path, answers: list[str], *extra: str):
    with ScriptedServer(answers) as server:
        proc = gui_agent("run", "click, type, enter", "--env", "replay", "--from", str(session), "--base-url",
                         server.base_url, "--model", "qwen", "--out", str(out), "--max-retries", "0", *extra)
    return proc, " ".join(proc.stderr.split()), Trajectory.load(out).result


def test_a_poor_model_is_shown_its_score_and_fails(session: Path, tmp_path: Path) -> None:
    answers = [call(action="left_click", coordinate=[100, 100]), call(action="type", text="hi"),
               call(action="scroll", coordinate=[10, 10], pixels=-100), call(action="terminate", status="success")]
    proc, text, result = _score(session, tmp_path / "eval", answers)
    assert proc.returncode == 1, proc.stderr
    assert "score: 2 of 4 recorded steps matched (50%; needed 100%) — not passed" in text
    assert "click outside the recorded target" in text and "different action" in text
    assert '{"action": "key", "keys": ["Return"]}' in text and '"action": "scroll"' in text  # expected vs got
    assert result["outcome"] == "failure" and result["info"]["matched_steps"] == 2
    assert result["info"]["step_accuracy"] == 0.5 and [s["match"] for s in result["info"]["scores"]] == [
        False, True, False, True]


def test_the_threshold_is_the_users(session: Path, tmp_path: Path) -> None:
    answers = [call(action="left_click", coordinate=[100, 100]), call(action="type", text="hi"),
               call(action="key", keys=["Return"]), call(action="terminate", status="success")]
    proc, text, result = _score(session, tmp_path / "eval", answers, "--min-accuracy", "0.7")
    assert proc.returncode == 0, proc.stderr
    assert "3 of 4 recorded steps matched (75%; needed 70%) — passed" in text and result["outcome"] == "success"


def test_a_model_claiming_success_early_is_scored_not_believed(session: Path, tmp_path: Path) -> None:
    proc, text, result = _score(session, tmp_path / "eval", [call(action="terminate", status="success")])
    assert proc.returncode == 1 and result["outcome"] == "failure"
    assert "0 of 4 recorded steps matched" in text and "not reached" in text


def test_the_score_is_kept_when_the_step_limit_ends_the_run(session: Path, tmp_path: Path) -> None:
    proc, text, result = _score(session, tmp_path / "eval", RECORDED, "--max-steps", "2")
    assert proc.returncode == 1 and result["outcome"] == "step_limit"
    assert result["info"]["matched_steps"] == 2 and result["info"]["step_accuracy"] == 0.5
    assert "2 of 4 recorded steps matched" in text


def test_the_score_is_kept_when_the_model_stops_giving_usable_answers(session: Path, tmp_path: Path) -> None:
    proc, text, result = _score(session, tmp_path / "eval", [RECORDED[0], "I would rather not."])
    assert proc.returncode == 1 and result["outcome"] not in ("success", "step_limit")  # issue 14 names this outcome
    assert result["info"]["matched_steps"] == 1 and result["info"]["scored_steps"] == 1
    assert "1 of 4 recorded steps matched" in text
