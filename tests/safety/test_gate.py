"""The safety gate: denied actions never reach the environment, the model reads why, the trajectory records
the decision; default denials, a rules file overriding them, asks without a person, Android apps."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.safety import RuleSet, SafetyGate, load_rules
from environments.safety.rules import normalise_keys
from tests.safety.screens import ScreensApp, call, click

TERMINATE = call(action="terminate", status="success")


def run(tmp_path: Path, texts: list[str], rules: RuleSet | None = None, tool: str = "computer_use", **options):
    app = ScreensApp(tool)
    model = ReplayModel(texts)
    gate = SafetyGate(app, rules, **options)
    result = Agent(model, gate, AgentConfig(max_steps=10), TrajectoryWriter(tmp_path / "run")).run("do it")
    return result, Trajectory.load(tmp_path / "run"), model, app


@pytest.mark.parametrize("keys", [["ctrl", "alt", "delete"], ["Control_L", "Alt", "Del"], ["super+l"], ["cmd", "shift", "q"],
                                  ["ctrl", "shift", "w"], ["XF86PowerOff"]])
def test_default_denials_never_reach_the_environment(tmp_path: Path, keys) -> None:
    result, t, model, app = run(tmp_path, [call(action="key", keys=keys), click("B"), TERMINATE])
    assert result.outcome == "success"
    assert [e["action"] for e in app.events] == ["left_click"]  # the key combination was never pressed
    gate = t.steps[0]["result"]["info"]["gate"]
    assert gate["decision"] == "deny" and gate["rule"] in ("logout-or-lock", "power", "close-everything")
    assert "not executed: the safety gate denied it" in model.prompts[1].user and gate["reason"] in model.prompts[1].user
    assert t.steps[1]["result"]["info"]["gate"] == {"decision": "allow", "rule": None, "reason": ""}


@pytest.mark.parametrize("text", ["rm -rf /", "sudo rm -fr ~/work", "rm -r -f build", "mkfs.ext4 /dev/sda1",
                                  "sudo shutdown -h now", "dd if=/dev/zero of=/dev/sda"])
def test_destructive_shell_text_is_denied(tmp_path: Path, text: str) -> None:
    result, t, model, app = run(tmp_path, [call(action="type", text=text), TERMINATE])
    assert app.events == [] and t.steps[0]["result"]["info"]["gate"]["rule"] == "destructive-command"


@pytest.mark.parametrize("text", ["ls -la", "rm notes.txt", "I will reform the firm", "git push origin main"])
def test_ordinary_text_is_typed(tmp_path: Path, text: str) -> None:
    _, _, _, app = run(tmp_path, [call(action="type", text=text), TERMINATE])
    assert app.events == [{"action": "type", "text": text}]


def test_rules_file_overrides_and_adds(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('''
[[rule]]
decision = "allow"
keys = ["ctrl+alt+delete"]

[[rule]]
decision = "deny"
name = "no-drop"
action = ["type"]
text = "(?i)drop table"
reason = "no dropping tables here"
''')
    rules = load_rules(path)
    result, t, model, app = run(tmp_path, [call(action="key", keys=["ctrl", "alt", "del"]),
                                           call(action="type", text="DROP TABLE users;"),
                                           call(action="key", keys=["super", "l"]), TERMINATE], rules)
    assert [e["action"] for e in app.events] == ["key"]  # the allowed combination only
    decisions = [s["result"]["info"]["gate"] for s in t.steps[:3]]
    assert [d["decision"] for d in decisions] == ["allow", "deny", "deny"]
    assert decisions[1]["rule"] == "no-drop" and "no dropping tables here" in model.prompts[2].user
    assert decisions[2]["rule"] == "logout-or-lock"  # the defaults still follow


def test_defaults_can_be_switched_off(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("defaults = false\n")
    _, _, _, app = run(tmp_path, [call(action="key", keys=["super", "l"]), TERMINATE], load_rules(path))
    assert app.events == [{"action": "key", "keys": ["super", "l"]}]


def test_ask_without_a_person_is_denied_with_the_way_out(tmp_path: Path) -> None:
    rules = RuleSet.model_validate({"rule": [{"decision": "ask", "action": ["left_click"], "reason": "clicks need a look"}]})
    result, t, model, app = run(tmp_path, [click("B"), TERMINATE], rules)
    assert app.events == []
    assert "run with --confirm" in t.steps[0]["result"]["info"]["gate"]["reason"]
    assert "clicks need a look" in model.prompts[1].user


@pytest.mark.parametrize("content,problem", [("[[rule]]\ndecision = 'maybe'\n", "rule.0.decision"),
                                             ("[[rule]]\ndecision = 'deny'\ntext = '(('\n", "not a valid regular expression"),
                                             ("[[rule]]\ndecision = 'deny'\ncolour = 'red'\n", "colour"),
                                             ("decision = [", "not valid TOML")])
def test_a_bad_rules_file_says_what_is_wrong(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match="--rules") as info:
        load_rules(path)
    assert problem in str(info.value)


def test_allow_app_limits_open(tmp_path: Path) -> None:
    texts = [call("mobile_use", action="open", text="Notes"), call("mobile_use", action="open", text="settings"),
             call("mobile_use", action="terminate", status="success")]
    result, t, model, app = run(tmp_path, texts, tool="mobile_use", allow_apps=("Settings",))
    assert app.events == [{"action": "open", "text": "settings"}]
    gate = t.steps[0]["result"]["info"]["gate"]
    assert gate["rule"] == "allow-app" and "'Notes' is not in the allowed apps" in model.prompts[1].user


def test_key_names_are_normalised() -> None:
    assert normalise_keys(["Control_R", "ALT", "Delete"]) == normalise_keys("ctrl+alt+del") == {"ctrl", "alt", "delete"}
    assert normalise_keys(["cmd", "option", "esc"]) == {"super", "alt", "esc"}
    assert normalise_keys("ctrl++") == {"ctrl", "+"}
