"""The first hour as README's Quick start tells it: serve the demo app, start the scripted model server,
run the agent on the app (no GPU), then replay the recorded run as a test would. Real processes throughout."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}


def _serve(*args: str) -> tuple[subprocess.Popen, str]:
    """Start ``python -m ARGS --port 0`` and return it with the first line it prints."""
    process = subprocess.Popen([sys.executable, "-m", *args, "--port", "0"], cwd=ROOT, env=ENV, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = process.stdout.readline()
    if not line:
        process.kill()
        pytest.fail(f"{args[0]} printed nothing: {process.stderr.read()}")
    return process, line


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


def test_demo_app_and_scripted_model_give_a_first_successful_run_and_a_replay(tmp_path: Path) -> None:
    app, app_line = _serve("environments.webapps")
    model, model_line = _serve("agent.models.testing")
    try:
        demo = re.search(r"(http://127\.0\.0\.1:\d+/demo/)", app_line).group(1)
        base_url = re.search(r"--base-url (http://127\.0\.0\.1:\d+/v1) --model scripted", model_line).group(1)
        instruction = "Sign in with username alice and password wonderland, then turn on email notifications in Settings."
        run = subprocess.run([sys.executable, "-m", "agent.cli", "run", instruction, "--env", "browser", "--url", demo,
                              "--base-url", base_url, "--model", "scripted", "--out", str(tmp_path / "first")],
                             cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        with urllib.request.urlopen(demo.replace("/demo/", "/state"), timeout=10) as response:
            state = json.load(response)
        assert state["signedIn"] and state["settings"]["emailNotifications"] is True
    finally:
        assert _stop(app) == 0 and _stop(model) == 0
    replay = subprocess.run([sys.executable, "-m", "agent.cli", "replay", str(tmp_path / "first")], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0 and "replay matches: 8 steps" in replay.stderr, replay.stderr


def test_scripted_server_serves_given_answers_and_refuses_a_busy_port() -> None:
    server, line = _serve("agent.models.testing", "--answer", "hello", "--model", "m")
    try:
        base_url = re.search(r"--base-url (\S+) --model m", line).group(1)
        request = urllib.request.Request(f"{base_url}/chat/completions", method="POST",
                                         data=json.dumps({"model": "m", "messages": []}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["choices"][0]["message"]["content"] == "hello"
        port = base_url.split(":")[2].split("/")[0]
        busy = subprocess.run([sys.executable, "-m", "agent.models.testing", "--port", port], cwd=ROOT, env=ENV,
                              capture_output=True, text=True, timeout=60)
        assert busy.returncode == 2 and "pick another --port" in busy.stderr
    finally:
        assert _stop(server) == 0
