"""Record by demonstration on a real X server (Xvfb + the Tk test app), input sent by another client
(xdotool, as a person's would arrive), then replay the demonstration live on a fresh app: no model call."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.geometry import Size
from agent.regression.live import LiveReplay
from agent.trajectory import Trajectory
from environments.desktop import DesktopEnvironment
from environments.x11.recorder import DesktopRecorder

APP = Path(__file__).resolve().parents[1] / "desktop" / "tk_app.py"


def _desktop() -> DesktopEnvironment:
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: `make system-deps` installs it", pytrace=False)
    return DesktopEnvironment(virtual=Size(1280, 720), launch=[sys.executable, str(APP), "--standalone"])


def _xdotool(env: DesktopEnvironment, *args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, env=env.virtual.environ() | {"PATH": "/usr/bin:/bin"}, timeout=30)


def test_desktop_demonstration_is_recorded_and_replays_live(tmp_path):
    out = tmp_path / "desktop"
    with _desktop() as env:
        env.reset()
        recorder = DesktopRecorder(env, out, "Click the targets, type, scroll and drag")
        recorder.start()
        for args in (("mousemove", "140", "120", "click", "1"),
                     ("mousemove", "500", "120", "click", "--repeat", "2", "--delay", "80", "1"),
                     ("mousemove", "900", "150", "click", "1"), ("type", "--delay", "20", "Hello"),
                     ("key", "Return"), ("key", "ctrl+a"),
                     ("mousemove", "300", "500", "click", "--repeat", "3", "--delay", "30", "5"),
                     ("mousemove", "140", "240", "mousedown", "1", "mousemove", "200", "250", "mousemove", "300", "240",
                      "mouseup", "1")):
            _xdotool(env, *args)
            recorder.poll()
        recorder.finish()
    steps = Trajectory.load(out).steps
    actions = [s["action"] for s in steps]
    names = [a["action"] for a in actions]
    assert names == ["left_click", "double_click", "left_click", "type", "key", "key", "scroll", "mouse_move",
                     "left_click_drag", "terminate"], names
    assert actions[3]["text"] == "Hello" and actions[4]["keys"] == ["enter"] and actions[5]["keys"] == ["ctrl", "a"]
    assert steps[0]["screen_points"]["coordinate"] == pytest.approx([140, 120], abs=0.5)
    assert actions[6]["pixels"] < 0 and steps[6]["screen_points"]["coordinate"] == pytest.approx([300, 500], abs=0.5)
    assert steps[8]["screen_points"]["coordinate"] == pytest.approx([300, 240], abs=0.5)

    with _desktop() as env:  # a fresh app: the demonstration replays on it as recorded
        report = LiveReplay(Trajectory.load(out), env, tmp_path / "replay").run()
    assert report.passed and report.model_calls == 0, report.summary()
    assert [s.status for s in report.steps] == ["replayed"] * 10


def test_record_and_replay_cli_on_a_virtual_desktop(tmp_path):
    """`gui-agent record --env desktop` in a private Xvfb, input from xdotool, Ctrl-C; then `replay --live`
    rebuilds the same desktop (recorded size and program) and replays it with no model."""
    import os
    import re
    import signal
    import time

    out = tmp_path / "session"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "record", "--env", "desktop", "--virtual-display",
                             "1280x720", "--launch", f"{sys.executable} {APP} --standalone", "--out", str(out)],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline, line = time.monotonic() + 60, ""
        while "recording input on display" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "gui-agent record exited early"
        display = re.search(r"display (:\d+)", line).group(1)
        xenv = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
        for args in (("mousemove", "140", "120", "click", "1"), ("mousemove", "900", "150", "click", "1"),
                     ("type", "--delay", "20", "hi")):
            subprocess.run(["xdotool", *args], check=True, env=xenv, timeout=30)
        deadline = time.monotonic() + 30  # the recorder polls every 0.1 s: wait for the steps to be written
        while time.monotonic() < deadline and len(Trajectory.load(out).steps) < 2:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    names = [s["action"]["action"] for s in Trajectory.load(out).steps]
    assert names == ["left_click", "left_click", "type", "terminate"], names
    done = subprocess.run([sys.executable, "-m", "agent.cli", "replay", str(out), "--live", "--out",
                           str(tmp_path / "replay")], capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "0 model calls" in done.stderr
