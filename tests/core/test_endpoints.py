"""Several model endpoints (vLLM replicas) used as one model: least loaded first, failures go elsewhere."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.errors import ModelUnavailableError
from agent.models.openai import OpenAIModel
from agent.models.pool import Endpoints
from agent.models.testing import ScriptedServer
from agent.prompt import Prompt

PROMPT = Prompt("system", "click the button")
ANSWER = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5, 5]}}\n</tool_call>'


def _endpoints(urls, reports, **kwargs) -> Endpoints:
    return Endpoints(urls, lambda url: OpenAIModel(url, "qwen", max_retries=0, timeout=10), report=reports.append,
                     **kwargs)


def test_concurrent_requests_go_to_the_least_loaded_endpoint() -> None:
    servers = [ScriptedServer([ANSWER], latency=0.3) for _ in range(3)]
    for server in servers:
        server.__enter__()
    try:
        pool = _endpoints([s.base_url for s in servers], [])
        threads = [threading.Thread(target=pool.generate, args=(PROMPT,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [len(s.requests) for s in servers] == [2, 2, 2]
        assert all(state.in_flight == 0 for state in pool.state.values())
    finally:
        for server in servers:
            server.__exit__(None, None, None)


def test_a_killed_endpoint_is_retried_elsewhere_reported_and_taken_out() -> None:
    servers = [ScriptedServer([ANSWER]) for _ in range(3)]
    for server in servers:
        server.__enter__()
    try:
        reports: list[str] = []
        pool = _endpoints([s.base_url for s in servers], reports, max_failures=2, cooldown=600)
        dead = servers[1]
        dead.__exit__(None, None, None)  # killed: nothing listens there any more
        answers = [pool.generate(PROMPT) for _ in range(12)]
        assert all(a.text == ANSWER for a in answers)
        assert {a.info["endpoint"] for a in answers} == {servers[0].base_url, servers[2].base_url}
        assert len(servers[0].requests) + len(servers[2].requests) == 12
        failures = [r for r in reports if dead.base_url in r]
        assert len(failures) == 2 and "retried elsewhere" in failures[0] and "taken out" in failures[1]
        assert pool.describe()["endpoints"][1] == {"url": dead.base_url, "requests": 2, "failures": 2, "out": True,
                                                   "last_error": pool.state[dead.base_url].last_error}
    finally:
        for server in (servers[0], servers[2]):
            server.__exit__(None, None, None)


def test_no_endpoint_answering_is_a_clear_error() -> None:
    server = ScriptedServer([ANSWER])
    with server:
        url = server.base_url
    pool = _endpoints([url, "http://127.0.0.1:9/v1"], [], max_failures=1)
    with pytest.raises(ModelUnavailableError, match="no model endpoint answered"):
        pool.generate(PROMPT)
    with pytest.raises(ModelUnavailableError, match="taken out after repeated failures"):
        pool.generate(PROMPT)


def test_an_unknown_model_name_is_not_retried_on_every_replica() -> None:
    with ScriptedServer([ANSWER], models=("other",)) as a, ScriptedServer([ANSWER], models=("other",)) as b:
        pool = _endpoints([a.base_url, b.base_url], [])
        with pytest.raises(ModelUnavailableError, match="does not know the model"):
            pool.generate(PROMPT)
        assert len(a.requests) + len(b.requests) == 1


def test_screenspot_with_three_base_urls_one_of_them_dead(tmp_path: Path) -> None:
    from tests.screenspot.conftest import make_v1

    make_v1(tmp_path / "data")
    with ScriptedServer(["30, 20]}}\n</tool_call>"]) as a, ScriptedServer(["30, 20]}}\n</tool_call>"]) as b:
        dead = ScriptedServer([ANSWER])
        with dead:
            dead_url = dead.base_url
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("gui-agent")), "eval", "screenspot", "--data", str(tmp_path / "data"),
             "--model", "qwen", "--base-url", a.base_url, "--base-url", dead_url, "--base-url", b.base_url,
             "--workers", "4", "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 8 and not [r for r in records if r["outcome"] == "error"]
    assert len(a.requests) + len(b.requests) == 8 and min(len(a.requests), len(b.requests)) >= 2
    assert dead_url in " ".join(proc.stderr.split()) and "retried elsewhere" in proc.stderr
