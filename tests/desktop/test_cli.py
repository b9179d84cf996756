"""`gui-agent run ... --env desktop --virtual-display WxH` end to end, as a new user would try it:
a loopback OpenAI-compatible server answers, a private Xvfb is started and stopped by the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from agent.models.testing import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("tk_app.py")


def tool_call(**arguments) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + "\n</tool_call>"


ANSWERS = [
    tool_call(action="left_click", coordinate=[329, 182]),  # (480, 270) of 1920x1080 in its 1316x728 model space
    tool_call(action="type", text='héllo "world"\n'),
    tool_call(action="key", keys=["ctrl", "s"]),
    tool_call(action="terminate", status="success"),
]


@pytest.mark.parametrize("dry_run", [False, True], ids=["live", "dry-run"])
def test_run_on_a_virtual_display(tmp_path, dry_run):
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # headless, as in CI
    with ScriptedServer(ANSWERS) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "agent.cli", "run", "Click the top left quarter and type hello", "--env",
             "desktop", "--virtual-display", "1920x1080", "--base-url", server.base_url, "--model", "qwen",
             "--out", str(out), *(["--dry-run", "--full-frames"] if dry_run else [])],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    assert len(server.requests) == 4
    run = json.loads((out / "run.json").read_text())
    assert run["environment"]["kind"] == "desktop" and run["environment"]["virtual"] == "1920x1080"
    assert run["environment"]["damage_tracking"] is not dry_run  # --full-frames switches it off
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert steps[0]["screen_points"]["coordinate"] == [480.0, 270.0]
    assert steps[0]["observation"]["cursor"] == [960, 540]  # Xvfb starts with the pointer in the middle
    assert Image.open(out / steps[0]["screenshot"]).size == (1920, 1080)
    cursor_after_click = steps[1]["observation"]["cursor"]
    if dry_run:
        assert cursor_after_click == steps[0]["observation"]["cursor"]  # nothing moved
        assert steps[0]["result"]["info"]["would"] == "left_click at (480, 270)"
        assert sorted(p.name for p in (out / "dry-run").iterdir()) == ["0001-left_click.png", "0002-type.png",
                                                                        "0003-key.png"]
    else:
        assert cursor_after_click == [480, 270]  # the click happened on the X server
    display = run["environment"]["display"]
    assert not Path(f"/tmp/.X11-unix/X{display.lstrip(':')}").exists(), "the private Xvfb was not stopped"


def test_launch_an_app_on_the_virtual_display_and_click_it(tmp_path):
    """--launch starts the program, the run waits for its window; a click turns the target orange."""
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    left = [140 * 1288 / 1280, 120 * 728 / 720]  # the "left" target's centre in 1280x720's 1288x728 model space
    answers = [tool_call(action="left_click", coordinate=[round(v, 1) for v in left]),
               tool_call(action="terminate", status="success")]
    with ScriptedServer(answers) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "agent.cli", "run", "Click the left button", "--env", "desktop",
             "--virtual-display", "1280x720", "--launch", f"{sys.executable} {APP} --standalone",
             "--base-url", server.base_url, "--model", "qwen", "--out", str(out)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    first, second = (Image.open(out / step["screenshot"]).convert("RGB") for step in steps[:2])
    # trajectory screenshots are JPEG q90: compare colours within a tolerance far below blue↔orange distance
    assert near(first.getpixel((104, 104)), (0x5A, 0x8D, 0xD6)), "the app was not on screen at the first step"
    assert near(second.getpixel((104, 104)), (0xF0, 0xA0, 0x30)), "the click did not reach the app"


def near(rgb: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 16) -> bool:
    return max(abs(a - b) for a, b in zip(rgb, expected)) <= tolerance


def test_launch_failure_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "run", "x", "--env", "desktop", "--virtual-display", "640x480",
         "--launch", "no-such-program-here --flag", "--base-url", "http://127.0.0.1:9/v1", "--model", "qwen",
         "--out", str(tmp_path / "run")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2 and "--launch no-such-program-here --flag: cannot start it" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
