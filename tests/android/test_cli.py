"""As a new user would: start the simulated phone as a process, look at it with the real `adb`, then
`gui-agent run` and `gui-agent eval android` against it with a loopback OpenAI-compatible server whose
answers come from the scripted policy (real tool-call text in model space)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.models.testing import ScriptedServer
from environments.android.device import AdbLink
from tasks.android.suite import REGISTRY
from tests.android.policy import ScriptedPolicy, plan_for
from tests.android.test_env import free_port

GUI_AGENT = str(Path(sys.executable).with_name("gui-agent"))


@pytest.fixture
def sim_process(adb_binary):
    """``python -m environments.android_sim`` on a free port; yields the port once it is listening."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "environments.android_sim", "--port", str(port), "--size", "720x1280"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()  # printed once the socket listens
        assert f"127.0.0.1:{port}" in line, line + proc.stdout.read() if proc.poll() is not None else line
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def adb(port: int, *args: str) -> subprocess.CompletedProcess:
    env = {"ANDROID_ADB_SERVER_PORT": str(port), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return subprocess.run(["adb", *args], env=env, capture_output=True, timeout=30)


def test_real_adb_client_drives_the_simulator(sim_process):
    port = sim_process
    assert adb(port, "devices").stdout.decode() == "List of devices attached\nemulator-5554\tdevice\n\n"
    png = adb(port, "exec-out", "screencap", "-p").stdout
    assert png.startswith(b"\x89PNG") and int.from_bytes(png[16:20], "big") == 720
    assert adb(port, "-s", "emulator-5554", "shell", "wm", "size").stdout.decode().strip() == "Physical size: 720x1280"
    adb(port, "shell", "settings put global airplane_mode_on 1")
    assert adb(port, "shell", "settings", "get", "global", "airplane_mode_on").stdout.decode().strip() == "1"
    adb(port, "shell", "input", "tap", "270", "150")  # the Notes icon
    assert "com.sim.notes" in adb(port, "shell", "dumpsys", "window").stdout.decode()


class Router:
    """Serves each episode's scripted plan: finds the task whose goal is the prompt's instruction."""

    def __init__(self, port: int, seeds: range = range(3)) -> None:
        self.link = AdbLink(port=port)
        self.goals = {REGISTRY[t].sample(s).goal: REGISTRY[t].sample(s) for t in REGISTRY for s in seeds}
        self.goals["Turn on airplane mode"] = REGISTRY["SystemAirplaneModeOn"].sample(0)
        self.current: tuple[str, ScriptedPolicy] | None = None

    def __call__(self, body: dict) -> str:
        instruction = re.search(r"The user query: (.*?)(?:\\n|\n)", json.dumps(body["messages"])).group(1)
        if self.current is None or self.current[0] != instruction or self.current[1].index >= len(self.current[1].plan):
            task = self.goals[instruction.replace('\\"', '"')]
            self.current = (instruction, ScriptedPolicy(self.link.shell, plan_for(task)))
        return self.current[1].answer_request(body)


def test_gui_agent_run_turns_on_airplane_mode(sim_process, tmp_path):
    port = sim_process
    with ScriptedServer(Router(port), models=("qwen2.5-vl",)) as server:
        proc = subprocess.run([GUI_AGENT, "run", "Turn on airplane mode", "--env", "android", "--serial", "emulator-5554",
                               "--adb-port", str(port), "--adb-settle", "0", "--base-url", server.base_url,
                               "--model", "qwen2.5-vl", "--out", str(tmp_path / "run")],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert adb(port, "shell", "settings get global airplane_mode_on").stdout.decode().strip() == "1"
    steps = [json.loads(line) for line in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    assert [s["action"]["action"] for s in steps] == ["open", "click", "terminate"]


def test_gui_agent_eval_android_and_resume(sim_process, tmp_path):
    port = sim_process
    out = tmp_path / "eval"
    command = [GUI_AGENT, "eval", "android", "--tasks", "SystemAirplaneModeOn,NotesCreate,ContactsPhoneAnswer",
               "--episodes", "2", "--adb-port", str(port), "--adb-settle", "0", "--model", "qwen2.5-vl",
               "--out", str(out)]
    with ScriptedServer(Router(port), models=("qwen2.5-vl",)) as server:
        proc = subprocess.run([*command, "--base-url", server.base_url], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        assert len(records) == 6 and all(r["success"] and r["reward"] == 1.0 for r in records), records
        assert "Android (6 episodes)" in proc.stdout and "100.0%" in proc.stdout
        assert (out / records[0]["dir"] / "steps.jsonl").is_file()
        for r in records:  # each episode folder carries the device-state verdict results.jsonl has
            folder = json.loads((out / r["dir"] / "result.json").read_text())
            assert (folder["outcome"], folder["reward"], folder["judged_by"]) == (r["outcome"], r["reward"],
                                                                                 "Android (results.jsonl)")
        again = subprocess.run([*command, "--base-url", server.base_url], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "6 of 6 episodes already finished" in " ".join(again.stderr.split())
    assert len((out / "results.jsonl").read_text().splitlines()) == 6


def test_cli_config_errors_exit_2(tmp_path):
    port = free_port()
    proc = subprocess.run([GUI_AGENT, "run", "x", "--env", "android", "--adb-port", str(port), "--base-url",
                           "http://127.0.0.1:9/v1", "--model", "m", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no adb server answers" in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr
    proc = subprocess.run([GUI_AGENT, "eval", "android", "--tasks", "NoSuchTask", "--model", "m",
                           "--base-url", "http://127.0.0.1:9/v1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown Android task(s): NoSuchTask" in " ".join(proc.stderr.split())
    listing = subprocess.run([GUI_AGENT, "eval", "android", "--list"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and "NotesCreate" in listing.stdout and "needs com.sim.notes" in listing.stdout


def test_gui_agent_run_dry_run_leaves_the_phone_alone(sim_process, tmp_path):
    port = sim_process
    click_notes = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [273, 151]}}\n</tool_call>'
    done = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'
    with ScriptedServer([click_notes, done]) as server:
        proc = subprocess.run([GUI_AGENT, "run", "Open Notes", "--env", "android", "--adb-port", str(port),
                               "--adb-settle", "0", "--dry-run", "--base-url", server.base_url, "--model", "qwen",
                               "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    step = json.loads((tmp_path / "run" / "steps.jsonl").read_text().splitlines()[0])
    assert step["result"]["info"]["would"] == "click at (270, 150)"
    assert (tmp_path / "run" / "dry-run" / "0001-click.png").is_file()
    assert "com.sim.notes" not in adb(port, "shell", "dumpsys", "window").stdout.decode()  # nothing was tapped
