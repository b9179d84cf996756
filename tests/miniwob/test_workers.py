"""``gui-agent eval miniwob --workers N`` as a user runs it: N browsers at once, one results file, resume."""

from __future__ import annotations

import json
import re

from agent.loop import AgentConfig
from agent.models.testing import ScriptedServer
from tasks.miniwob import MiniWoBTask
from tasks.miniwob.suite import MiniWoBSuite
from tasks.runner import load_results
from tests.miniwob.policy import DomPolicy, Step, centre, quoted
from tests.miniwob.test_suite_run import _gui_agent


def _instruction_of(answers: dict, seed: int) -> str:
    return answers["by_seed"][seed]


def _answers_by_instruction(seeds) -> dict:
    """The right click-button answer for each seed, keyed by the seed's instruction (requests from
    several browsers arrive in any order)."""
    with MiniWoBSuite(None, AgentConfig()) as suite:
        browser = suite.browser()
        policy = DomPolicy(browser.page, suite.scale)
        task, answers, by_seed = MiniWoBTask("click-button"), {}, {}
        for seed in seeds:
            by_seed[seed] = task.setup(browser, seed)
            answers[seed] = policy.to_text(
                Step("left_click", centre(browser.page, "#area button", quoted(browser.page)[0])))
    return {"by_seed": by_seed, "texts": answers}


def _distinct_seeds(n: int):
    """``n`` consecutive seeds whose instructions all differ, and a server answer function for them
    (the server tells episodes apart by their instruction)."""
    answers = _answers_by_instruction(range(16))
    start = next(s for s in range(10) if len({_instruction_of(answers, k) for k in range(s, s + n)}) == n)
    seeds = range(start, start + n)
    texts = {answers["by_seed"][seed]: answers["texts"][seed] for seed in seeds}

    def answer(body: dict) -> str:
        user = json.dumps(body["messages"])
        return next(text for instruction, text in texts.items() if json.dumps(instruction)[1:-1] in user)

    return start, seeds, answer


def test_four_browsers_at_once_then_resume(tmp_path):
    start, seeds, answer = _distinct_seeds(6)

    out = tmp_path / "run"
    with ScriptedServer(answer) as server:
        common = ["eval", "miniwob", "--tasks", "click-button", "--episodes", "6", "--base-url", server.base_url,
                  "--model", "qwen", "--out", str(out), "--workers", "4", "--seed", str(start)]
        first = _gui_agent(*common)
        assert first.returncode == 0, first.stderr
        records = load_results(out)
        assert sorted(r["seed"] for r in records) == list(seeds)
        assert all(r["outcome"] == "success" and r["reward"] == 1.0 for r in records), records
        assert len(server.requests) == 6 and "100.0% (6)" in first.stdout
        assert re.search(r"100\.0% success \(6/6\)", first.stderr)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["options"]["workers"] == 4 and "playwright" in summary["versions"]
        again = _gui_agent(*common)
        assert again.returncode == 0 and len(server.requests) == 6
        assert "6 of 6 episodes already finished" in again.stderr


def test_four_ray_workers_finish_a_run_started_locally(tmp_path, ray_address):
    """``--workers 4 --ray``: each Ray actor starts its own Chromium; records stream into the results
    file the local run began, so the Ray run does only what is left."""
    start, seeds, answer = _distinct_seeds(6)
    out = tmp_path / "run"
    with ScriptedServer(answer) as server:
        common = ["eval", "miniwob", "--tasks", "click-button", "--base-url", server.base_url, "--model", "qwen",
                  "--out", str(out), "--seed", str(start)]
        local = _gui_agent(*common, "--episodes", "2")
        assert local.returncode == 0, local.stderr
        on_ray = _gui_agent(*common, "--episodes", "6", "--workers", "4", "--ray", ray_address)
        assert on_ray.returncode == 0, on_ray.stderr
        assert "2 of 6 episodes already finished" in on_ray.stderr
    records = load_results(out)
    assert sorted(r["seed"] for r in records) == list(seeds) and len(server.requests) == 6
    assert all(r["outcome"] == "success" for r in records), records
    assert sum("node" in r for r in records) == 4  # the four run by Ray actors say where they ran
    assert all((out / r["dir"] / "steps.jsonl").is_file() for r in records)
