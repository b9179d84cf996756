"""``gui-agent eval android --workers 2``: one simulated phone process serving two devices, one per worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.models.testing import ScriptedServer
from tests.android.test_env import free_port

GUI_AGENT = str(Path(sys.executable).with_name("gui-agent"))
SERIALS = ("emulator-5554", "emulator-5556")
ANSWER = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "answer", "text": "14"}}\n</tool_call>'
DONE = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


def _policy(body: dict) -> str:
    """Answers the version question (the simulated phones run Android 14), then terminates."""
    return DONE if "Step 1:" in json.dumps(body["messages"]) else ANSWER  # the history names the answer


@pytest.fixture
def two_phones(adb_binary):
    port = free_port()
    command = [sys.executable, "-m", "environments.android_sim", "--port", str(port), "--size", "720x1280"]
    for serial in SERIALS:
        command += ["--serial", serial]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in line, line
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _eval(port: int, out: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([GUI_AGENT, "eval", "android", "--tasks", "SystemAndroidVersionAnswer", "--episodes", "4",
                           "--adb-port", str(port), "--adb-settle", "0", "--model", "qwen", "--base-url", url,
                           "--out", str(out), "--workers", "2", *extra], capture_output=True, text=True, timeout=300)


def test_two_workers_two_devices_then_resume(two_phones, tmp_path):
    out = tmp_path / "eval"
    with ScriptedServer(_policy) as server:
        proc = _eval(two_phones, out, server.base_url)  # no --serial: the first two ready devices
        assert proc.returncode == 0, proc.stderr
        records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        assert len(records) == 4 and all(r["success"] for r in records), records
        used = {json.loads((out / r["dir"] / "run.json").read_text())["environment"]["serial"] for r in records}
        assert used == set(SERIALS)
        assert json.loads((out / "summary.json").read_text())["options"]["serials"] == list(SERIALS)
        again = _eval(two_phones, out, server.base_url, "--serial", SERIALS[1], "--serial", SERIALS[0])
        assert again.returncode == 0 and "4 of 4 episodes already finished" in " ".join(again.stderr.split())
        assert len(server.requests) == 8


def test_fewer_devices_than_workers_is_a_configuration_error(two_phones, tmp_path):
    proc = _eval(two_phones, tmp_path / "e", "http://127.0.0.1:9/v1", "--serial", SERIALS[0])
    assert proc.returncode == 2 and "one device each" in " ".join(proc.stderr.split())
    proc = _eval(two_phones, tmp_path / "e", "http://127.0.0.1:9/v1", "--workers", "3")
    assert proc.returncode == 2 and "2 ready" in " ".join(proc.stderr.split())
