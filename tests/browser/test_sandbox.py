"""Chromium keeps its sandbox unless it cannot run (root, no user namespaces) or the user turns it off;
the decision is said once and recorded in run.json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.models.testing import ScriptedServer
from environments.chromium import Sandbox, sandbox_decision, start_playwright
from environments.webapps.policy import tool_call

ROOT = Path(__file__).resolve().parents[2]
GUI_AGENT = Path(sys.executable).parent / "gui-agent"


def fake_proc(tmp_path: Path, max_namespaces: int, clone: int | None = None) -> Path:
    (tmp_path / "sys" / "user").mkdir(parents=True)
    (tmp_path / "sys" / "kernel").mkdir(parents=True)
    (tmp_path / "sys" / "user" / "max_user_namespaces").write_text(f"{max_namespaces}\n")
    if clone is not None:
        (tmp_path / "sys" / "kernel" / "unprivileged_userns_clone").write_text(f"{clone}\n")
    return tmp_path


def test_decision(tmp_path: Path) -> None:
    assert sandbox_decision(euid=1000, proc=fake_proc(tmp_path / "a", 100)) == Sandbox(True, "")
    off = sandbox_decision(euid=1000, proc=fake_proc(tmp_path / "b", 0))
    assert not off.enabled and "user namespaces" in off.reason
    assert not sandbox_decision(euid=1000, proc=fake_proc(tmp_path / "c", 100, clone=0)).enabled
    root = sandbox_decision(euid=0, proc=fake_proc(tmp_path / "d", 100))
    assert not root.enabled and "root" in root.reason
    asked = sandbox_decision(True, euid=1000, proc=fake_proc(tmp_path / "e", 100))
    assert not asked.enabled and "--no-browser-sandbox" in asked.reason


def test_a_sandboxed_launch_does_not_pass_no_sandbox() -> None:
    """With the sandbox on, Chromium really gets no --no-sandbox: as root it then refuses to start (which
    is why root turns it off); as an ordinary user its renderers run under seccomp."""
    playwright, options = start_playwright(sandbox=Sandbox(True, ""))
    try:
        assert options["chromium_sandbox"] is True and "--no-sandbox" not in options["args"]
        if os.geteuid() == 0:
            with pytest.raises(Exception, match="(?i)sandbox|root"):
                playwright.chromium.launch(**options, timeout=20000)
        else:
            browser = playwright.chromium.launch(**options)
            page = browser.new_page()
            page.goto("data:text/html,<p>sandboxed</p>")
            renderers = [p for p in os.listdir("/proc") if p.isdigit() and _is_renderer(p)]
            assert renderers and all(_seccomp(p) == "2" for p in renderers)
            browser.close()
    finally:
        playwright.stop()


def _is_renderer(pid: str) -> bool:
    try:
        return b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _seccomp(pid: str) -> str | None:
    match = re.search(r"Seccomp:\s*(\d)", Path(f"/proc/{pid}/status").read_text())
    return match.group(1) if match else None


@pytest.mark.parametrize("flag", [False, True])
def test_run_records_and_says_it_once(server, tmp_path: Path, flag: bool) -> None:
    answers = [tool_call({"action": "terminate", "status": "success"})]
    with ScriptedServer(answers) as model:
        done = subprocess.run(
            [str(GUI_AGENT), "run", "Look.", "--env", "browser", "--url", server.url("demo/"), "--base-url",
             model.base_url, "--model", "qwen", "--out", str(tmp_path / "run"),
             *(["--no-browser-sandbox"] if flag else [])],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=os.environ | {"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    sandbox = json.loads((tmp_path / "run" / "run.json").read_text())["environment"]["sandbox"]
    expected = sandbox_decision(flag)
    assert sandbox == {"enabled": expected.enabled, "reason": expected.reason}
    if flag or os.geteuid() == 0:
        assert sandbox["enabled"] is False
        assert done.stderr.count("Chromium runs without its sandbox") == 1 and sandbox["reason"] in done.stderr
