"""`gui-agent replay` of runs that ended early or were judged by an evaluation: a clear message, no
traceback, no contradicting outcome, and an interrupted run that did what it recorded matches."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.canvas import CanvasEnvironment
from tasks.runner import load_results, plan, run_units
from tests.core.test_bad_input import gui_agent

CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [100, 100]}}\n</tool_call>'
DONE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


def _record(path: Path, texts: list[str], **config) -> Path:
    Agent(ReplayModel(texts), CanvasEnvironment(Size(640, 480)), AgentConfig(**config), TrajectoryWriter(path)).run("x")
    return path


def test_a_run_with_no_recorded_step_is_a_clear_usage_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"instruction": "x", "tool": "computer_use", "options": {}}))
    (run / "steps.jsonl").write_text("")
    (run / "result.json").write_text(json.dumps({"outcome": "error", "reason": "StepTimeout: the server hung", "steps": 0}))
    proc = gui_agent("replay", str(run))
    text = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "has no recorded step to replay" in text and "StepTimeout: the server hung" in text


def test_a_run_whose_model_never_answered_usably_replays_that_failure(tmp_path: Path) -> None:
    run = _record(tmp_path / "run", ["no idea", "still no idea"], max_retries=1)
    assert Trajectory.load(run).result["outcome"] != "success"
    proc = gui_agent("replay", str(run), "--out", str(tmp_path / "again"))
    assert proc.returncode == 0, proc.stderr
    assert "replay matches: 1 step" in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr


def test_an_interrupted_run_matches_when_its_recorded_actions_are_reproduced(tmp_path: Path) -> None:
    """Ctrl-C during the model call of step 3 leaves a step line with a screenshot and no answer, and no result."""
    run = _record(tmp_path / "run", [CLICK, CLICK, DONE])
    steps = (run / "steps.jsonl").read_text().splitlines()
    last = json.loads(steps[-1])
    last.pop("action"), last.pop("model_points", None), last.pop("screen_points", None), last.pop("result", None)
    last["attempts"] = []
    (run / "steps.jsonl").write_text("\n".join([*steps[:-1], json.dumps(last)]) + "\n")
    (run / "result.json").unlink()
    proc = gui_agent("replay", str(run), "--out", str(tmp_path / "again"))
    text = " ".join(proc.stderr.split())
    assert proc.returncode == 0, proc.stderr
    assert "never finished" in text and "all 2 recorded actions reproduced" in text
    moved = json.loads(steps[0])
    moved["screen_points"]["coordinate"][0] += 30  # and a real difference is still found
    (run / "steps.jsonl").write_text("\n".join([json.dumps(moved), *steps[1:-1], json.dumps(last)]) + "\n")
    proc = gui_agent("replay", str(run))
    assert proc.returncode == 1 and "replay differs" in proc.stderr


def test_episode_folders_carry_the_evaluations_verdict(tmp_path: Path) -> None:
    """The model claims success; the suite scores a failure. The folder must say failure, and keep the claim
    labelled as the model's; replaying the folder must not print success as the recording's outcome."""

    def run_one(unit, directory):
        result = Agent(ReplayModel([DONE]), CanvasEnvironment(Size(320, 240)), AgentConfig(),
                       TrajectoryWriter(directory)).run("click the button")
        assert result.outcome == "success"  # the agent's own view
        return {"outcome": "failure", "success": False, "reward": -1.0, "steps": result.steps,
                "reason": "the page did not end the episode"}

    run_units(plan(["click-button"], 1), run_one, tmp_path, console=Console(file=io.StringIO()), label="MiniWoB++")
    (record,) = load_results(tmp_path)
    folder = json.loads((tmp_path / record["dir"] / "result.json").read_text())
    assert (folder["outcome"], folder["success"], folder["reward"]) == ("failure", False, -1.0)
    assert folder["reason"] == "the page did not end the episode" and folder["judged_by"] == "MiniWoB++ (results.jsonl)"
    assert folder["agent"]["outcome"] == "success"
    assert folder["agent"]["reason"] == "the model's own claim: it terminated with status success"

    proc = gui_agent("replay", str(tmp_path / record["dir"]), "--out", str(tmp_path / "again"))
    text = " ".join(proc.stderr.split())
    assert proc.returncode == 0, proc.stderr
    assert "judged by MiniWoB++ (results.jsonl): failure, reward -1.0" in text
    assert "the agent's outcome success as recorded (the evaluation's verdict: failure)" in text
