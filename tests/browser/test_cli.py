"""The browser through the command line: `gui-agent demo` offline, `replay`, `run --env browser`, profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main
from agent.demo import session_dir
from agent.errors import ConfigError
from agent.models.testing import ScriptedServer
from environments.browser import BrowserEnvironment
from environments.webapps.policy import tool_call

ROOT = Path(__file__).resolve().parents[2]
GUI_AGENT = Path(sys.executable).parent / "gui-agent"


def test_demo_without_weights_replays_the_recorded_session(tmp_path: Path) -> None:
    empty_home = tmp_path / "hf"
    empty_home.mkdir()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_HOME": str(empty_home), "COLUMNS": "140", "NO_COLOR": "1"}
    env.pop("HF_HUB_CACHE", None)
    done = subprocess.run([str(GUI_AGENT), "demo", "--out", str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "model weights not found" in output and "hf download Qwen/Qwen2.5-VL-3B-Instruct" in output
    assert "--base-url" in output
    assert "left_click" in output and "terminate" in output  # the steps table
    assert "replay matches" in output
    assert json.loads((tmp_path / "out" / "result.json").read_text())["outcome"] == "success"


def test_shipped_session_replays(tmp_path: Path) -> None:
    session = session_dir("signin-notifications")
    assert (session / "result.json").is_file() and len(list((session / "screenshots").glob("*.jpg"))) == 8
    assert main(["replay", str(session), "--out", str(tmp_path / "replay")]) == 0


def test_run_env_browser_through_a_model_server(server, tmp_path: Path) -> None:
    answers = [tool_call({"action": "left_click", "coordinate": [644, 342]}),  # the username field at 1280x720
               tool_call({"action": "type", "text": "alice"}),
               tool_call({"action": "terminate", "status": "success"})]
    with ScriptedServer(answers) as model:
        code = main(["run", "Type alice as the username.", "--env", "browser", "--url", server.url("demo/"),
                     "--viewport", "1280x720", "--device-scale-factor", "1.5", "--allow-domain", "127.0.0.1",
                     "--base-url", model.base_url, "--model", "qwen", "--out", str(tmp_path / "run")])
    assert code == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["environment"]["kind"] == "browser" and run["environment"]["device_scale_factor"] == 1.5
    steps = [json.loads(line) for line in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    assert steps[0]["result"]["info"]["target"] == "input#username"
    assert steps[0]["geometry"]["screenshot"] == [1920, 1080] and steps[0]["geometry"]["input"] == [1280, 720]


def test_bad_viewport_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert main(["run", "x", "--env", "browser", "--viewport", "huge", "--base-url", "http://127.0.0.1:9/v1",
                 "--model", "m", "--out", str(tmp_path / "r")]) == 2
    assert "--viewport" in capsys.readouterr().err


def test_headed_needs_a_display(monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ConfigError, match="DISPLAY"):
        BrowserEnvironment(headless=False)


def test_user_data_dir_keeps_the_profile(server, tmp_path: Path) -> None:
    profile = str(tmp_path / "profile")
    with BrowserEnvironment(server.url("demo/"), user_data_dir=profile) as env:
        env.reset()
        env.page.evaluate("localStorage.setItem('kept', 'yes')")
    with BrowserEnvironment(server.url("demo/"), user_data_dir=profile) as env:
        env.reset()
        assert env.page.evaluate("localStorage.getItem('kept')") == "yes"


def test_demo_with_local_weights_runs_the_model_on_the_app(tmp_path: Path, capsys) -> None:
    """The non-fallback path: a (tiny, random) checkpoint on disk is loaded and drives the real browser."""
    from rich.console import Console

    from agent.cli import build_parser
    from agent.demo import run_demo
    from agent.models.tiny import build_tiny_qwen25vl

    checkpoint = build_tiny_qwen25vl(tmp_path / "tiny")
    args = build_parser().parse_args(["demo", "--model", str(checkpoint), "--out", str(tmp_path / "out"),
                                      "--max-new-tokens", "8", "--max-pixels", str(256 * 28 * 28)])
    code = run_demo(args, Console(file=sys.stderr, width=140))
    err = capsys.readouterr().err
    assert code == 1 and "the app says the task is not done" in err  # random weights cannot sign in
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["environment"]["kind"] == "browser" and run["demo_task"] == "signin-notifications"
    assert (tmp_path / "out" / "result.json").is_file() and "model weights not found" not in err


def test_run_dry_run_in_the_browser_executes_nothing(server, tmp_path: Path) -> None:
    answers = [tool_call({"action": "left_click", "coordinate": [644, 342]}),  # the username field at 1280x720
               tool_call({"action": "type", "text": "alice"}),
               tool_call({"action": "terminate", "status": "success"})]
    with ScriptedServer(answers) as model:
        code = main(["run", "Type alice as the username.", "--env", "browser", "--url", server.url("demo/"),
                     "--dry-run", "--base-url", model.base_url, "--model", "qwen", "--out", str(tmp_path / "run")])
    assert code == 0
    steps = [json.loads(line) for line in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    assert steps[0]["result"]["info"]["would"] == "left_click at (640, 338)"
    assert "target" not in steps[0]["result"]["info"]  # the browser never looked for an element to click
    assert steps[1]["result"]["info"]["would"] == "type 'alice'"
    assert steps[1]["observation"]["cursor"] == [0, 0]  # the mouse never moved
    assert sorted(p.name for p in (tmp_path / "run" / "dry-run").iterdir()) == ["0001-left_click.png", "0002-type.png"]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["environment"]["dry_run"].endswith("dry-run")
