"""``gui-agent replay --live``, ``gui-agent record`` and ``gui-agent assert`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent.geometry import Geometry, Size
from agent.models.testing import ScriptedServer
from agent.trajectory import Trajectory
from tests.regression.demonstration import VIEWPORT

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "COLUMNS": "160"}


def gui_agent(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


def _moved_button_answer(browser, server) -> str:
    """What a grounding model would answer on the moved variant: a click at the moved button, model space."""
    page = browser.new_page(viewport={"width": VIEWPORT.width, "height": VIEWPORT.height})
    try:
        page.goto(server.url("demo/?variant=moved"))
        box = page.locator("#signin-button").bounding_box()
    finally:
        page.close()
    geometry = Geometry.for_screenshot(VIEWPORT, VIEWPORT)
    from agent.geometry import ScreenPoint

    point = geometry.to_model(ScreenPoint(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
    call = {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [round(point.x), round(point.y)]}}
    return f"<tool_call>\n{json.dumps(call)}\n</tool_call>"


def test_live_replay_cli_heals_over_http_and_updates(session, browser, server, tmp_path):
    url = server.url("demo/?variant=moved")
    with ScriptedServer([_moved_button_answer(browser, server)]) as model:
        done = gui_agent("replay", str(session), "--live", "--url", url, "--mask-selector", "#toast",
                         "--base-url", model.base_url, "--model", "qwen", "--out", str(tmp_path / "out"), "--update")
        assert done.returncode == 0, done.stderr
        assert len(model.requests) == 1  # one drifted step, one model call over HTTP
        content = model.requests[0]["messages"][-1]["content"]
        assert sum(part["type"] == "image_url" for part in content) == 2
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["passed"] and report["heals"] == 1 and report["steps"][4]["status"] == "healed"
    assert "PASSED" in done.stderr and "healed" in done.stderr
    assert report["backup"] and Path(report["backup"]).is_dir()
    assert any(a.get("heal") for s in Trajectory.load(session).steps for a in s["attempts"])
    # the updated session now replays on the moved app with --no-heal: nothing drifts any more
    again = gui_agent("replay", str(session), "--live", "--url", url, "--no-heal", "--mask-selector", "#toast")
    assert again.returncode == 0, again.stderr


def test_live_replay_cli_no_heal_fails_with_the_step_and_screenshots(session, server, tmp_path):
    done = gui_agent("replay", str(session), "--live", "--url", server.url("demo/?variant=moved"), "--no-heal",
                     "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "step 5 (left_click) failed" in done.stderr and "--no-heal" in done.stderr
    assert str(session / "screenshots" / "0005.jpg") in done.stderr.replace("\n", "")


def test_live_replay_cli_without_a_model_says_what_to_do(session, server):
    done = gui_agent("replay", str(session), "--live", "--url", server.url("demo/?variant=moved"))
    assert done.returncode == 1 and "--base-url" in done.stderr


def test_bad_options_exit_2(session, tmp_path):
    assert gui_agent("replay", str(session), "--live", "--mask", "1,2,3").returncode == 2
    assert gui_agent("replay", str(tmp_path / "nothing"), "--live").returncode == 2
    done = gui_agent("assert", str(session), "--text", "Signed in")
    assert done.returncode == 2 and "--after-step" in done.stderr
    assert gui_agent("assert", str(session), "--text", "x", "--after-step", "99").returncode == 2


def test_assert_cli_adds_assertions_the_replay_checks(session, server):
    assert gui_agent("assert", str(session), "--text", "Signed in as alice", "--after-step", "5").returncode == 0
    assert gui_agent("assert", str(session), "--url-pattern", "/demo/").returncode == 0
    listed = gui_agent("assert", str(session), "--list")
    assert "Signed in as alice" in listed.stderr and "/demo/" in listed.stderr
    done = gui_agent("replay", str(session), "--live", "--url", server.url("demo/"), "--mask-selector", "#toast")
    assert done.returncode == 0, done.stderr
    assert "✓ after step 5 the text 'Signed in as alice' is visible" in done.stderr


def test_offline_replay_of_a_demonstration(session):
    done = gui_agent("replay", str(session))
    assert done.returncode == 0, done.stderr


def test_record_cli_under_xvfb_finishes_on_sigint(server, tmp_path):
    """`gui-agent record` runs headed Chromium in a private Xvfb; Ctrl-C ends it with a complete session."""
    out = tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "record", "--url", server.url("demo/"),
                             "--out", str(out), "--virtual-display", "1280x800"],
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "recording on" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "gui-agent record exited early"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    recorded = Trajectory.load(out)
    assert recorded.result["outcome"] == "success"
    assert [s["action"]["action"] for s in recorded.steps] == ["terminate"]
    assert recorded.run["environment"]["headless"] is False
    assert Size(*recorded.steps[0]["geometry"]["input"]) == Size(1280, 720)
