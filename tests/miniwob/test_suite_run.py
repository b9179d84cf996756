"""Whole evaluations: resume after an interruption with the real suite, a browser that dies, and the
``gui-agent eval miniwob`` command against a loopback OpenAI-compatible server.

No module-wide browser here: Playwright's sync API allows one instance per thread at a time, and these
tests start their own (the CLI in a subprocess, as a user would run it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main as cli_main
from agent.loop import AgentConfig
from agent.models import ReplayModel
from agent.models.testing import ScriptedServer
from tasks.miniwob import MiniWoBTask
from tasks.miniwob.suite import MiniWoBSuite
from tasks.runner import load_results, plan, run_units
from tests.miniwob.policy import DomPolicy, Step, centre, quoted

ROOT = Path(__file__).resolve().parents[2]


def test_an_interrupted_evaluation_resumes_without_repeating_episodes(tmp_path):
    units = plan(["click-button", "focus-text"], 2, seed=10)
    with MiniWoBSuite(None, AgentConfig(max_steps=5, max_retries=0)) as suite:
        suite.model = policy = DomPolicy(suite.browser().page, suite.scale)
        ran = []

        def interrupted_after_three(unit, directory):
            if len(ran) == 3:
                raise KeyboardInterrupt  # Ctrl-C while the fourth episode runs
            ran.append(unit.key)
            return suite.run(unit, directory)

        with pytest.raises(KeyboardInterrupt):
            run_units(units, interrupted_after_three, tmp_path)
        assert ran == ["click-button#0", "click-button#1", "focus-text#0"]
        assert len(load_results(tmp_path)) == 3 and len(policy.episodes) == 3

        records = run_units(units, suite.run, tmp_path)
    assert policy.episodes == ["click-button", "click-button", "focus-text", "focus-text"]  # one more, not four
    assert [(r["task"], r["episode"], r["seed"]) for r in records] == [
        ("click-button", 0, 10), ("click-button", 1, 11), ("focus-text", 0, 10), ("focus-text", 1, 11)]
    assert all(r["outcome"] == "success" and r["reward"] == 1.0 for r in records)
    assert len(load_results(tmp_path)) == 4
    assert all((tmp_path / r["dir"] / "result.json").is_file() for r in records)


class _PageKiller:
    """A model that closes the browser's page while it 'thinks'."""

    name = "page-killer"

    def __init__(self, suite):
        self.suite = suite

    def generate(self, prompt):
        self.suite.browser().page.close()
        return ReplayModel(['<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 0}}\n'
                            '</tool_call>']).generate(prompt)

    def describe(self):
        return {"backend": "page-killer"}


def test_a_dead_browser_is_an_error_and_is_replaced(tmp_path):
    with MiniWoBSuite(None, AgentConfig(max_retries=0)) as suite:
        suite.model = _PageKiller(suite)
        first = suite.browser()
        result = suite.run(plan(["click-button"], 1)[0], tmp_path / "dead")
        assert result["outcome"] == "error" and "closed" in result["reason"] and result["reward"] is None
        second = suite.browser()
        assert second is not first and second.page.evaluate("() => 1 + 1") == 2


def _right_answers(seeds) -> list[str]:
    """The correct click-button answer for each seed, as model text, computed from the page."""
    with MiniWoBSuite(None, AgentConfig()) as suite:
        browser = suite.browser()
        policy = DomPolicy(browser.page, suite.scale)
        task, texts = MiniWoBTask("click-button"), []
        for seed in seeds:
            task.setup(browser, seed)
            texts.append(policy.to_text(Step("left_click", centre(browser.page, "#area button", quoted(browser.page)[0]))))
    return texts


def _gui_agent(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"COLUMNS": "160"}  # rich wraps at 80 columns when not on a terminal
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)


def test_cli_evaluates_resumes_and_extends_a_run(tmp_path):
    out = tmp_path / "run"
    answers = _right_answers([0, 1, 2, 3])
    with ScriptedServer(answers) as server:
        common = ["eval", "miniwob", "--tasks", "click-button", "--base-url", server.base_url, "--model", "qwen",
                  "--out", str(out)]
        first = _gui_agent(*common, "--episodes", "3")
        assert first.returncode == 0, first.stderr
        assert len(server.requests) == 3  # one click per episode
        records = load_results(out)
        assert [(r["seed"], r["outcome"], r["reward"], r["steps"]) for r in records] == [
            (0, "success", 1.0, 1), (1, "success", 1.0, 1), (2, "success", 1.0, 1)]
        assert "click-button" in first.stdout and "100.0% (3)" in first.stdout and "1.000" in first.stdout
        for r in records:
            steps = [json.loads(line) for line in (out / r["dir"] / "steps.jsonl").read_text().splitlines()]
            assert steps[0]["attempts"][0]["raw"] == answers[r["seed"]]
        assert json.loads((out / "eval.json").read_text())["base_url"] == server.base_url

        again = _gui_agent(*common, "--episodes", "3")
        assert again.returncode == 0 and len(server.requests) == 3  # nothing repeated
        assert "3 of 3 episodes already finished" in again.stderr and "100.0% (3)" in again.stdout

        more = _gui_agent(*common, "--episodes", "4")
        assert more.returncode == 0 and len(server.requests) == 4  # only the new episode
        assert [r["seed"] for r in load_results(out)] == [0, 1, 2, 3] and "100.0% (4)" in more.stdout

        changed = _gui_agent(*common, "--episodes", "4", "--seed", "5")
        assert changed.returncode == 2 and "other options" in changed.stderr and len(server.requests) == 4


def test_cli_lists_tasks_and_rejects_unknown_ones(capsys):
    assert cli_main(["eval", "miniwob", "--list"]) == 0
    assert "click-button\n" in capsys.readouterr().out
    assert cli_main(["eval", "miniwob", "--tasks", "click-buton", "--base-url", "http://127.0.0.1:9/v1",
                     "--model", "qwen"]) == 2
    assert "did you mean click-button" in capsys.readouterr().err
    assert cli_main(["eval", "miniwob"]) == 2


def test_cli_with_a_tiny_random_qwen25vl_in_process(tmp_path, capsys):
    """The in-process transformers path on MiniWoB++ geometry: the processor sees exactly the 476x616
    model-space image (TransformersModel checks the vision grid), noise answers end as the model's failure."""
    from agent.models.tiny import build_tiny_qwen25vl

    checkpoint = build_tiny_qwen25vl(tmp_path / "tiny")
    out = tmp_path / "run"
    code = cli_main(["eval", "miniwob", "--tasks", "click-button", "--episodes", "1", "--model", str(checkpoint),
                     "--max-steps", "2", "--max-retries", "0", "--max-new-tokens", "8", "--out", str(out)])
    assert code == 0
    (record,) = load_results(out)
    assert record["outcome"] in ("failure", "step_limit") and record["steps"] >= 1  # noise: the model's failure
    assert record["agent_outcome"] == "step_limit" or (record["fault"] == "model" and "no usable answer" in record["reason"])
    steps = [json.loads(line) for line in (out / record["dir"] / "steps.jsonl").read_text().splitlines()]
    assert steps[0]["geometry"]["model"] == [476, 616] and steps[0]["image_tokens"] == 374
    assert steps[0]["attempts"][0]["raw"]  # the model did answer (noise)
    assert "click-button" in capsys.readouterr().out


def test_cli_episode_folder_says_what_the_page_said_not_what_the_model_claimed(tmp_path):
    """A model that terminates with "success" at once: the page never ended the episode, so the eval scores
    a failure (reward -1). The episode folder must say the same, keep the claim as the model's, and a
    replay of the folder must not print success as the recording's verdict."""
    out = tmp_path / "run"
    claim = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'
    with ScriptedServer([claim]) as server:
        done = _gui_agent("eval", "miniwob", "--tasks", "click-button", "--episodes", "1", "--base-url",
                          server.base_url, "--model", "qwen", "--out", str(out))
    assert done.returncode == 0, done.stderr
    (record,) = load_results(out)
    assert (record["outcome"], record["reward"]) == ("failure", -1.0)
    folder = json.loads((out / record["dir"] / "result.json").read_text())
    assert (folder["outcome"], folder["success"], folder["reward"]) == ("failure", False, -1.0)
    assert folder["judged_by"] == "MiniWoB++ (results.jsonl)" and folder["reason"] == record["reason"]
    assert folder["agent"]["outcome"] == "success" and "the model's own claim" in folder["agent"]["reason"]
    replay = _gui_agent("replay", str(out / record["dir"]), "--out", str(tmp_path / "again"))
    text = " ".join(replay.stderr.split())
    assert replay.returncode == 0 and "judged by MiniWoB++ (results.jsonl): failure, reward -1.0" in text
    assert "the evaluation's verdict: failure" in text
