"""The gate, secrets and loop guard through `gui-agent run` in real Chromium on the demo app."""

from __future__ import annotations

import json
from pathlib import Path

from agent.models.testing import ScriptedServer
from environments.webapps.policy import tool_call

USERNAME, PASSWORD_FIELD, SIGN_IN = [644, 342], [644, 419], [644, 482]  # the demo's sign-in form at 1280x720
SECRET = "wonderland"


def click(xy) -> str:
    return tool_call({"action": "left_click", "coordinate": xy})


def user_texts(server: ScriptedServer) -> list[str]:
    return [next(c["text"] for c in body["messages"][-1]["content"] if c["type"] == "text")
            for body in server.requests if body["messages"][-1]["role"] == "user"]


def test_secret_is_typed_but_never_written_shown_or_sent(server, gui_agent, tmp_path: Path) -> None:
    server.state = {}
    answers = [click(USERNAME), tool_call({"action": "type", "text": "alice"}), click(PASSWORD_FIELD),
               tool_call({"action": "type", "text": "<secret:PASSWORD>"}), click(SIGN_IN),
               tool_call({"action": "terminate", "status": "success"})]
    out = tmp_path / "run"
    with ScriptedServer(answers) as model:
        done = gui_agent("run", "Sign in as alice with the password <secret:PASSWORD>.", "--env", "browser",
                         "--url", server.url("demo/"), "--base-url", model.base_url, "--model", "qwen",
                         "--out", str(out), "--secret", f"PASSWORD={SECRET}", "--report")
        prompts = json.dumps(model.requests)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    assert server.state.get("signedIn") is True  # the value itself was typed into the password field
    assert "<secret:PASSWORD>" in prompts and SECRET not in prompts
    assert SECRET not in printed and "report:" in printed
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"run.json", "steps.jsonl", "result.json", "report.html"}
    assert [p for p in written if SECRET.encode() in p.read_bytes()] == []
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert steps[3]["action"] == {"action": "type", "text": "<secret:PASSWORD>"}
    assert json.loads((out / "run.json").read_text())["environment"]["secrets"] == ["PASSWORD"]


def test_secret_from_the_environment_and_missing(gui_agent, server, tmp_path: Path) -> None:
    done = gui_agent("run", "x", "--env", "browser", "--url", server.url("demo/"), "--base-url", "http://127.0.0.1:9/v1",
                     "--model", "qwen", "--out", str(tmp_path / "r"), "--secret", "NOT_SET_ANYWHERE")
    assert done.returncode == 2 and "environment variable NOT_SET_ANYWHERE is not set" in done.stderr


def test_confirm_approve_reject_stop_from_stdin(server, gui_agent, tmp_path: Path) -> None:
    answers = [click(USERNAME), click(SIGN_IN), click(PASSWORD_FIELD), click(USERNAME)]
    out = tmp_path / "run"
    with ScriptedServer(answers) as model:
        done = gui_agent("run", "Sign in.", "--env", "browser", "--url", server.url("demo/"), "--base-url",
                         model.base_url, "--model", "qwen", "--out", str(out), "--confirm",
                         input="a\nr fill in the password first\ns\n")
        prompts = user_texts(model)
    printed = done.stdout + done.stderr
    assert done.returncode == 1, printed
    assert printed.count("The agent wants to:") == 3 and '"action": "left_click"' in printed
    pictures = [line.split("screenshot with the action marked: ", 1)[1].strip() for line in printed.splitlines()
                if "screenshot with the action marked: " in line]
    assert len(pictures) == 3 and all(Path(p).is_file() and Path(p).read_bytes()[:4] == b"\x89PNG" for p in pictures)
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    gates = [s["result"]["info"]["gate"] for s in steps]
    assert [g["decision"] for g in gates] == ["allow", "deny", "deny"] and gates[0]["verdict"] == "approve"
    assert steps[0]["result"]["info"]["target"] == "input#username"  # approved: it reached the page
    assert "target" not in steps[1]["result"]["info"]  # rejected: it never did
    assert "the person rejected it: fill in the password first" in prompts[2]
    result = json.loads((out / "result.json").read_text())
    assert result["outcome"] == "stopped" and len(prompts) == 3


def test_a_looping_model_ends_stuck_in_real_chromium(server, gui_agent, tmp_path: Path) -> None:
    """Clicking the same blank spot of the demo app: real captures, the guard sees no change, and the run
    ends 'stuck' (exit 1) after the default six repeats instead of using the whole budget of 20."""
    out = tmp_path / "run"
    with ScriptedServer([click([100, 650])] * 20) as model:
        done = gui_agent("run", "Sign in.", "--env", "browser", "--url", server.url("demo/"), "--base-url",
                         model.base_url, "--model", "qwen", "--out", str(out))
        prompts = user_texts(model)
    assert done.returncode == 1, done.stderr
    assert json.loads((out / "result.json").read_text())["outcome"] == "stuck" and len(prompts) == 6
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["result"]["info"]["guard"]["changed"] for s in steps] == [False] * 6
    assert "(the screen did not change)" in prompts[1] and "try something different" in prompts[3]
    assert "stuck" in done.stderr
