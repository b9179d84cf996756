"""--allow-app on the simulated phone: `open` of another app is denied before it happens, and an app reached
by tapping its launcher icon is left with Home, recorded and told to the model."""

from __future__ import annotations

from agent.geometry import ScreenPoint
from environments.base import Command
from environments.safety import SafetyGate
from tests.android.policy import UI
from tools import get_tool

MOBILE = get_tool("mobile_use")


def tap(point: ScreenPoint) -> Command:
    return Command(MOBILE.validate({"action": "click", "coordinate": [0, 0]}), point)


def test_apps_outside_the_allowlist_are_left(env) -> None:
    gate = SafetyGate(env, allow_apps=("Settings",))
    gate.reset()
    home = env.foreground_package()
    assert home == "com.sim.launcher"
    opened = gate.execute(Command(MOBILE.validate({"action": "open", "text": "Notes"})))
    assert opened.info["gate"]["rule"] == "allow-app" and env.foreground_package() == home
    tapped = gate.execute(tap(UI(env.shell).center(text="Notes")))
    gate_info = tapped.info["gate"]
    assert gate_info["decision"] == "deny" and gate_info["rule"] == "allow-app"
    assert "sent back to the home screen" in tapped.notes[0] and "notes" in tapped.notes[0].lower()
    assert env.foreground_package() == home
    allowed = gate.execute(tap(UI(env.shell).center(text="Settings")))
    assert allowed.info["gate"]["decision"] == "allow" and env.foreground_package() != home
    assert env.foreground_package() == env.resolve_app("Settings").package


def test_without_an_allowlist_the_tap_opens_the_app(env) -> None:
    gate = SafetyGate(env)
    gate.reset()
    gate.execute(tap(UI(env.shell).center(text="Notes")))
    assert env.foreground_package() == env.resolve_app("Notes").package
