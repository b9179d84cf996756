"""Episodes as Ray actors on a local Ray instance: records stream into the same results.jsonl, so a run
started locally resumes on Ray and the other way round; a timed-out actor is killed and replaced."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from agent.models.testing import ScriptedServer
from tasks.ray_pool import RayPool
from tasks.runner import load_results, plan, run_units
from tests.screenspot.conftest import make_v1

GUI_AGENT = str(Path(sys.executable).with_name("gui-agent"))
QUIET = Console(file=io.StringIO())


class SlowOnA:
    """A worker whose 'a' units hang (a browser that never answers); made on the actor."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, unit, directory):
        if unit.task == "a":
            time.sleep(600)
        return {"outcome": "success", "worker": self.index}


def test_a_unit_past_its_timeout_kills_its_actor_and_the_run_goes_on(ray_address, tmp_path):
    pool = RayPool(SlowOnA, 2, ray_address, cpus=0.5)
    records = run_units(plan(["a", "b"], 2), None, tmp_path, pool=pool, episode_timeout=10, console=QUIET,
                        directories=False)
    assert [r["outcome"] for r in records] == ["error", "error", "success", "success"], records
    assert all(r["timeout"] for r in records[:2]) and all(r["node"] for r in records[2:])


def test_screenspot_on_ray_resumes_a_local_run(ray_address, tmp_path):
    make_v1(tmp_path / "data")
    out = tmp_path / "out"
    with ScriptedServer(["30, 20]}}\n</tool_call>"]) as server:
        def run(*extra: str) -> subprocess.CompletedProcess:
            return subprocess.run([GUI_AGENT, "eval", "screenspot", "--data", str(tmp_path / "data"), "--model", "qwen",
                                   "--base-url", server.base_url, "--out", str(out), *extra],
                                  capture_output=True, text=True, timeout=300)

        local = run("--limit", "3")
        assert local.returncode == 0, local.stderr
        assert len(load_results(out)) == 3
        on_ray = run("--ray", ray_address, "--workers", "2")
        assert on_ray.returncode == 0, on_ray.stderr
    records = load_results(out)
    assert len(records) == 8 and len({r["task"] for r in records}) == 8  # 3 local + the 5 others, none twice
    assert sum("node" in r for r in records) == 5 and len(server.requests) == 8
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runner"]["ray"] == ray_address
