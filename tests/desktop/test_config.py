"""Clear errors for a bad X setup, monitor choice and geometry, and --dry-run, on a real Xvfb."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from agent.errors import ConfigError, EnvironmentFailure
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from environments.conformance import assert_conformant, check_environment, default_boxes
from environments.desktop import DesktopEnvironment, input_space, pick_monitor, wheel_clicks
from environments.make import make_env
from tests.desktop.conftest import TkTargetDisplay, call, run_script
from tests.desktop.tk_app import TARGETS

ROOT = Path(__file__).resolve().parents[2]


def test_the_process_environment_is_left_alone(desktop):
    env, _ = desktop
    assert os.environ.get("DISPLAY") != env.display_name


def test_missing_display_says_what_to_do(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ConfigError, match="DISPLAY is not set.*--virtual-display"):
        DesktopEnvironment()


def test_unreachable_display_says_what_to_do(monkeypatch, tmp_path):
    (tmp_path / "xauth").touch()
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "xauth"))
    with pytest.raises(ConfigError, match="cannot connect to X display :917.*--virtual-display"):
        DesktopEnvironment(":917")


def test_a_missing_xauthority_is_not_blamed_when_no_server_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigError, match="cannot connect to X display :917") as caught:
        DesktopEnvironment(":917")
    assert "authority file" not in str(caught.value)


def _gui_agent_without_cookie(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """gui-agent with no XAUTHORITY and a HOME without .Xauthority, as on a fresh CI machine."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "XAUTHORITY")} | {"HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "agent.cli", "run", "stop", "--env", "desktop", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


TERMINATE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


def test_attaches_to_an_xvfb_without_auth_when_there_is_no_xauthority_file(tmp_path):
    """xdotool connects to an Xvfb started without -auth with no ~/.Xauthority; so must we."""
    from agent.models.testing import ScriptedServer
    from environments.x11.display import VirtualDisplay

    with VirtualDisplay(Size(640, 480)) as xvfb, ScriptedServer([TERMINATE]) as server:
        proc = _gui_agent_without_cookie(tmp_path, "--display", xvfb.name, "--base-url", server.base_url,
                                         "--model", "qwen", "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "home" / ".Xauthority").exists()  # nothing written into the user's home


def test_no_x_server_is_reported_as_such_not_as_a_missing_authority_file(tmp_path):
    proc = _gui_agent_without_cookie(tmp_path, "--display", ":77", "--base-url", "http://127.0.0.1:9/v1",
                                     "--model", "qwen", "--out", str(tmp_path / "run"))
    assert proc.returncode == 2 and "cannot connect to X display :77" in " ".join(proc.stderr.split())
    assert "authority file" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("extra,message", [
    ([], "DISPLAY is not set"),
    (["--display", ":917"], "cannot connect to X display :917"),
    (["--virtual-display", "big"], "--virtual-display: expected a size like 1280x720"),
    (["--virtual-display", "640x480", "--monitor", "5"], "--monitor 5 does not exist"),
])
def test_cli_reports_setup_errors_without_traceback(tmp_path, extra, message):
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"} | {"XAUTHORITY": str(tmp_path / "xa")}
    (tmp_path / "xa").touch()
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "run", "click ok", "--env", "desktop", "--base-url",
         "http://127.0.0.1:9/v1", "--model", "qwen", "--out", str(tmp_path / "run"), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in " ".join(proc.stderr.split()), proc.stderr
    assert "Traceback" not in proc.stderr


def test_pick_monitor():
    monitors = [{"left": 0, "top": 0, "width": 3200, "height": 1080},
                {"left": 0, "top": 0, "width": 1920, "height": 1080},
                {"left": 1920, "top": 0, "width": 1280, "height": 1024, "is_primary": True}]
    assert pick_monitor(monitors, None)[0] == 2
    assert pick_monitor(monitors, 0)[1]["width"] == 3200
    assert pick_monitor(monitors[:2], None)[0] == 1
    with pytest.raises(ConfigError, match="--monitor 3 does not exist.*2: 1280x1024\\+1920\\+0"):
        pick_monitor(monitors, 3)


def test_input_space_offsets_and_scale():
    right = {"left": 1920, "top": 0, "width": 1280, "height": 1024}
    whole = {"left": 0, "top": 0, "width": 3200, "height": 1080}
    assert input_space(right, whole, Size(3200, 1080)) == (Size(1280, 1024), (1920, 0), (1.0, 1.0))
    # a capture twice the input size (HiDPI): input coordinates are half the screenshot's
    whole2 = {"left": 0, "top": 0, "width": 6400, "height": 2160}
    right2 = {"left": 3840, "top": 0, "width": 2560, "height": 2048}
    assert input_space(right2, whole2, Size(3200, 1080)) == (Size(1280, 1024), (1920, 0), (0.5, 0.5))


def test_wheel_clicks():
    assert [wheel_clicks(p) for p in (0, 10, -10, 50, -120, 500)] == [0, 1, -1, 1, -2, 10]


def test_clicks_land_on_a_monitor_that_does_not_start_at_zero(desktop):
    """A region of the screen stands in for a second monitor: origin offsets reach the real clicks."""
    env, app = desktop
    saved = env.monitor
    env.monitor = {"left": 200, "top": 90, "width": 900, "height": 560}
    try:
        env._measure()
        obs = env.reset()
        assert obs.origin == (200, 90) and obs.screenshot.size == (900, 560)
        boxes = [(x1 + 200, y1 + 90, x2 + 200, y2 + 90) for x1, y1, x2, y2 in default_boxes(obs.input_size)]
        checks = check_environment(env, TkTargetDisplay(app, env), boxes)
    finally:
        env.monitor = saved
        env._measure()
        app.command("clear_target")
    assert_conformant(checks, "offset monitor")


def test_dry_run_draws_instead_of_acting(desktop, tmp_path, monkeypatch):
    env, app = desktop
    monkeypatch.setenv("XAUTHORITY", env.virtual.environ()["XAUTHORITY"])  # what a user attaching would export
    with DesktopEnvironment(env.display_name) as dry:  # attaches like --display :N
        before = dry._pointer()
        box = TARGETS["left"]
        since = app.mark()
        result = run_script(make_env(dry, max_steps=5, dry_run=tmp_path), [call("left_click", ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)),
                                  call("type", text="nothing typed")])
        assert dry._pointer() == before
    images = sorted(tmp_path.glob("*.png"))
    assert [p.name for p in images] == ["0001-left_click.png", "0002-type.png"], images
    ring = Image.open(images[0]).getpixel((round((box[0] + box[2]) / 2) + 10, round((box[1] + box[3]) / 2)))
    assert ring[0] > 200 and ring[1] < 80, ring  # the red ring around the click point
    assert not [e for e in app.events[since:] if e["type"] == "click"]
    assert result.outcome == "success"


def test_a_dead_x_server_ends_the_episode_as_an_environment_error():
    env = DesktopEnvironment(virtual=Size(640, 480))
    try:
        env.reset()
        env.virtual.process.kill()
        env.virtual.process.wait()
        result = Agent(ReplayModel([tool_call("left_click", [10, 10])] * 3), env, AgentConfig(max_steps=3)).run("x")
        assert result.outcome == "error" and "EnvironmentFailure" in result.reason, result
        assert "X display" in result.reason and "Xvfb exited" in result.reason, result.reason
        with pytest.raises(EnvironmentFailure, match="failed earlier"):
            env.observe()
    finally:
        started = time.monotonic()
        env.close()
        assert time.monotonic() - started < 5, "closing a dead display must not hang"


def tool_call(action: str, coordinate: list[float]) -> str:
    arguments = {"action": action, "coordinate": coordinate}
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + "\n</tool_call>"


def test_desktop_keeps_the_environment_contract():
    """Order of calls, framework actions above the adapter, an unsupported action fed back, close twice
    (the second close must not stop an Xvfb twice or hang on a closed connection)."""
    from environments.conformance import assert_contract

    assert_contract(DesktopEnvironment(virtual=Size(640, 480)))
