"""``--url``: a page that does not load is a usage error (exit 2, a sentence, no traceback); a local file's
path is opened as file://."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.models.testing import ScriptedServer
from environments.browser import page_url
from environments.webapps.policy import tool_call

ROOT = Path(__file__).resolve().parents[2]


def gui_agent(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)


def test_a_url_that_does_not_load_exits_2_before_the_model_is_asked(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with ScriptedServer([tool_call({"action": "terminate", "status": "success"})]) as model:
        proc = gui_agent("run", "x", "--env", "browser", "--url", f"http://127.0.0.1:{port}/", "--base-url",
                         model.base_url, "--model", "qwen", "--out", str(tmp_path / "run"))
        asked = len(model.requests)
    text = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and f"--url http://127.0.0.1:{port}/ did not load" in text, proc.stderr
    assert "Traceback" not in proc.stderr and asked == 0


def test_a_plain_file_path_is_opened_as_a_file_url(tmp_path: Path) -> None:
    page = tmp_path / "site" / "page.html"
    page.parent.mkdir()
    page.write_text("<title>local</title><button>OK</button>")
    with ScriptedServer([tool_call({"action": "terminate", "status": "success"})]) as model:
        proc = gui_agent("run", "x", "--env", "browser", "--url", "site/page.html", "--base-url", model.base_url,
                         "--model", "qwen", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    steps = [json.loads(line) for line in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    assert steps[0]["observation"]["url"] == page.resolve().as_uri()


def test_page_url_rules(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.html").write_text("<p>a</p>")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("<p>i</p>")
    assert page_url("a.html") == (tmp_path / "a.html").as_uri()
    assert page_url("docs") == (tmp_path / "docs" / "index.html").as_uri()
    assert page_url("http://127.0.0.1:8001/demo/") == "http://127.0.0.1:8001/demo/"
    assert page_url("localhost:8001") == "http://localhost:8001"
    with pytest.raises(ConfigError, match="no such file"):
        page_url("missing/page.html")
