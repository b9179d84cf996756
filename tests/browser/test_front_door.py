"""The front door as a new user meets it: README's two Python blocks, run exactly as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from agent.models.replay import ReplayModel
from agent.models.testing import ScriptedServer
from agent.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[2]
SESSION = ROOT / "tasks" / "sessions" / "demo-signin-notifications"


def readme_block(first_line: str) -> str:
    """The ```python block of README.md whose first line is ``first_line``."""
    for block in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), flags=re.S):
        if block.startswith(first_line + "\n"):
            return block
    raise AssertionError(f"README.md has no python block starting with {first_line!r}")


def python(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = os.environ | {"PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=300)


def test_readme_script_runs_the_demo_and_its_test_replays_it(tmp_path: Path) -> None:
    (tmp_path / "first_run.py").write_text(readme_block("# first_run.py"))
    (tmp_path / "test_first_run.py").write_text(readme_block("# test_first_run.py"))
    answers = ReplayModel.from_trajectory(SESSION).texts  # what a model answered on this task, as text over HTTP
    with ScriptedServer(answers, models=("Qwen/Qwen2.5-VL-7B-Instruct",)) as server:
        run = python("first_run.py", cwd=tmp_path, QWEN_BASE_URL=server.base_url)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("success 8 "), run.stdout
    assert Trajectory.load(tmp_path / "runs" / "first").result["outcome"] == "success"
    replayed = python("-m", "pytest", "-q", "-p", "no:cacheprovider", "test_first_run.py", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "1 passed" in replayed.stdout


def test_one_import_line_and_no_torch_for_a_browser_user(tmp_path: Path) -> None:
    probe = ("import sys, qwen_gui_agent as q\n"
             "q.Agent, q.AgentConfig, q.BrowserEnvironment, q.OpenAIModel, q.ReplayModel, q.make_env, q.ServerError\n"
             "print(sorted(m for m in ('torch', 'transformers', 'mss', 'adbutils') if m in sys.modules))\n"
             "print(q.Agent is __import__('agent.loop', fromlist=['Agent']).Agent)")
    out = python("-c", probe, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
    missing = python("-c", "import qwen_gui_agent; qwen_gui_agent.Nope", cwd=tmp_path)
    assert missing.returncode == 1 and "has no attribute 'Nope'" in missing.stderr
