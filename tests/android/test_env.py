"""The adb environment against the simulated phone: device selection errors, every action, typing
escapes, app resolution, reconnection, and the AndroidWorld export."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from agent.errors import ActionValidationError, ConfigError
from agent.geometry import ScreenPoint, Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.android.androidworld import export_trajectory, to_androidworld
from environments.android.device import DeviceUnavailable
from environments.android.env import AndroidEnvironment
from environments.android_sim import Phone
from environments.base import Command
from environments.make import make_env
from tests.android.policy import UI
from tools import get_tool

MOBILE = get_tool("mobile_use")


def run(env: AndroidEnvironment, point: ScreenPoint | None = None, end: ScreenPoint | None = None, **args):
    """Execute an action with input-space points (its model-space coordinates are placeholders)."""
    if point is not None:
        args["coordinate"] = [0, 0]
    if end is not None:
        args["coordinate2"] = [0, 0]
    return env.execute(Command(MOBILE.validate(args), point, end))


def tap_id(env: AndroidEnvironment, rid: str) -> None:
    point = UI(env.shell).center(id=rid)
    env.shell(f"input tap {point.x:.0f} {point.y:.0f}")


def state(env: AndroidEnvironment) -> dict:
    return json.loads(env.shell("sim state"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- finding the device -------------------------------------------------------------------------------
def test_no_adb_server_is_a_config_error_and_none_is_started():
    port = free_port()
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=f"no adb server answers at 127.0.0.1:{port}"):
        AndroidEnvironment(port=port)
    assert time.perf_counter() - started < 5
    with socket.socket() as s:  # adbutils' fallback would have started an adb server on the port
        assert s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(("devices", "serial", "message"), [
    ({}, None, "lists no device"),
    ({"a-1": "device", "b-2": "device"}, None, r"2 devices are attached.*--serial"),
    ({"a-1": "device"}, "zz", r"no device with serial 'zz'.*a-1 \(device\)"),
    ({"a-1": "unauthorized"}, None, "unauthorized: unlock it and accept"),
    ({"a-1": "offline"}, "a-1", "offline: reconnect"),
])
def test_device_selection_errors(adb_server, devices, serial, message):
    for name, st in devices.items():
        adb_server.add(name, Phone(Size(720, 1280)), state=st)
    with pytest.raises(ConfigError, match=message):
        AndroidEnvironment(serial, port=adb_server.port)


def test_picks_named_device_among_several(adb_server):
    adb_server.add("a-1", Phone(Size(720, 1280)))
    adb_server.add("b-2", Phone(Size(1080, 2400)))
    with AndroidEnvironment("b-2", port=adb_server.port, settle=0) as env:
        obs = env.reset()
        assert obs.screenshot_size == Size(1080, 2400) and obs.input_size == Size(1080, 2400)
        assert env.describe()["serial"] == "b-2"


def test_raw_and_png_capture_agree(env):
    png = env.observe().screenshot
    env.capture = "auto"
    obs = env.observe()
    assert env.capture == "raw" and obs.screenshot.tobytes() == png.tobytes()


# -- actions ------------------------------------------------------------------------------------------
def test_click_long_press_swipe_buttons(env, adb_server):
    env.reset()
    run(env, action="open", text="Contacts")
    for i in range(14):
        env.shell(f"content insert --uri content://com.sim.contacts/contacts --bind name:s:Person{i:02d}")
    run(env, action="system_button", button="Home")
    result = run(env, ScreenPoint(135.5, 330.2), action="click")  # the Settings icon at 1080 wide
    assert result.info["shell"] == "input tap 135 330" and state(env)["package"] == "com.android.settings"
    run(env, action="system_button", button="Back")
    assert state(env)["package"] == "com.sim.launcher"
    run(env, action="open", text="contacts")
    before = env.shell("uiautomator dump /dev/tty")
    run(env, ScreenPoint(540, 2000), ScreenPoint(540, 800), action="swipe")
    after = env.shell("uiautomator dump /dev/tty")
    assert "Person00" in before and "Person00" not in after and "Person13" in after
    result = run(env, ScreenPoint(300, 700), action="long_press", time=1.5)
    assert result.info["shell"] == "input swipe 300 700 300 700 1500"


@pytest.mark.parametrize("text", [
    "hello world", "it's a & b; c", "100%s done", "50% off", "%%s", '$HOME `ls` "q" \\ | > < ( )',
    "a*b?c[d]{e}~#!", "  two  spaces  ", "semi;colon&&amp",
])
def test_type_ascii_arrives_verbatim(env, text):
    run(env, action="open", text="Notes")
    tap_id(env, "new_note")  # an empty note with the title focused
    run(env, action="type", text=text)
    assert state(env)["fields"]["title"] == text


def test_type_newline_becomes_enter(env):
    run(env, action="open", text="Notes")
    tap_id(env, "new_note")
    run(env, action="key", text="enter")  # the title's Enter moves to the body
    run(env, action="type", text="line one\nline two")
    assert state(env)["fields"]["body"] == "line one\nline two"


def test_non_ascii_needs_adb_keyboard(adb_server):
    adb_server.add("plain", Phone(Size(720, 1280)))
    adb_server.add("ime", Phone(Size(720, 1280), adb_keyboard=True))
    with AndroidEnvironment("plain", port=adb_server.port, settle=0) as env, \
            pytest.raises(ActionValidationError, match="ADB Keyboard IME is not installed"):
        run(env, action="type", text="café")
    with AndroidEnvironment("ime", port=adb_server.port, settle=0) as env:
        run(env, action="open", text="Notes")
        tap_id(env, "new_note")
        run(env, action="type", text="héllo 世界 'x' & y")
        assert state(env)["fields"]["title"] == "héllo 世界 'x' & y"
        assert env.shell("settings get secure default_input_method") == "com.android.inputmethod.latin/.LatinIME"


def test_keys(env):
    run(env, action="key", text="volume_up")
    run(env, action="key", text="KEYCODE_VOLUME_UP")
    assert env.shell("settings get system volume_music") == "9"
    run(env, action="open", text="Notes")
    tap_id(env, "new_note")
    run(env, action="type", text="abc")
    run(env, action="key", text="Backspace")
    assert state(env)["fields"]["title"] == "ab"
    with pytest.raises(ActionValidationError, match="unknown key 'warp_drive'"):
        run(env, action="key", text="warp_drive")


@pytest.mark.parametrize(("name", "package"), [
    ("Notes", "com.sim.notes"), ("notes", "com.sim.notes"), ("com.sim.contacts", "com.sim.contacts"),
    ("Settings", "com.android.settings"), ("camera", "com.sim.camera"),
])
def test_open_app(env, name, package):
    result = run(env, action="open", text=name)
    assert result.info["package"] == package and state(env)["package"] == package


def test_open_unknown_app_is_fed_back(env):
    with pytest.raises(ActionValidationError, match=r"no app called 'Spotify'.*Contacts.*Notes.*Settings"):
        run(env, action="open", text="Spotify")


def test_wait_answer_terminate_are_the_frameworks(env):
    composed = make_env(env, max_steps=5)
    composed.reset()
    started = time.perf_counter()
    run(composed, action="wait", time=0.2)
    assert time.perf_counter() - started >= 0.2
    assert run(composed, action="answer", text="42").info == {"answer": "42"}
    assert not run(composed, action="terminate", status="success").done
    with pytest.raises(ActionValidationError, match="not available on an Android device"):
        run(env, action="answer", text="42")  # the adapter itself only does device verbs


# -- a link that drops --------------------------------------------------------------------------------
def test_dropped_device_comes_back(env, adb_server):
    env.reset()
    device = adb_server.remove("emulator-5554")
    timer = threading.Timer(0.4, adb_server.restore, args=(device,))
    timer.start()
    run(env, ScreenPoint(135, 330), action="click")
    timer.join()
    assert env.link.reconnects >= 1 and state(env)["package"] == "com.android.settings"


def test_device_gone_for_good_ends_episode_as_error(env, adb_server, tmp_path):
    click = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [135, 330]}}\n</tool_call>'

    class Unplugging(ReplayModel):
        def generate(self, prompt):
            if self.calls == 1:
                adb_server.remove("emulator-5554")
            return super().generate(prompt)

    result = Agent(Unplugging([click, click]), env, AgentConfig(max_steps=5), TrajectoryWriter(tmp_path)).run("tap")
    assert result.outcome == "error" and "DeviceUnavailable" in result.reason and "did not come back" in result.reason
    trajectory = Trajectory.load(tmp_path)
    assert trajectory.result["outcome"] == "error" and len(trajectory.steps) >= 1
    assert trajectory.steps[0]["result"]["info"]["shell"].startswith("input tap")


def test_server_gone_does_not_spawn_adb(env, adb_server):
    env.reset()
    adb_server.close()
    with pytest.raises(DeviceUnavailable, match="did not come back"):
        env.observe()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", adb_server.port)) != 0


# -- AndroidWorld's vocabulary ------------------------------------------------------------------------
def test_androidworld_mapping(env, tmp_path):
    p = ScreenPoint(10.7, 20.2)
    assert to_androidworld({"action": "click", "coordinate": [1, 2]}, p) == {"action_type": "click", "x": 10, "y": 20}
    assert to_androidworld({"action": "swipe"}, p, ScreenPoint(10, 400))["direction"] == "down"
    assert to_androidworld({"action": "type", "text": "hi"}) == {"action_type": "input_text", "text": "hi"}
    assert to_androidworld({"action": "system_button", "button": "Back"}) == {"action_type": "navigate_back"}
    assert to_androidworld({"action": "system_button", "button": "Menu"}) is None
    assert to_androidworld({"action": "key", "text": "enter"}) == {"action_type": "keyboard_enter"}
    assert to_androidworld({"action": "open", "text": "Notes"}) == {"action_type": "open_app", "app_name": "Notes"}
    assert to_androidworld({"action": "terminate", "status": "failure"}) == {"action_type": "status",
                                                                            "goal_status": "infeasible"}
    texts = ['<tool_call>\n{"name": "mobile_use", "arguments": {"action": "open", "text": "Notes"}}\n</tool_call>',
             '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [546, 1204]}}\n</tool_call>',
             '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "answer", "text": "ok"}}\n</tool_call>',
             '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>']
    Agent(ReplayModel(texts), env, AgentConfig(max_steps=5), TrajectoryWriter(tmp_path)).run("x")
    exported = export_trajectory(tmp_path)
    assert [a["action_type"] for a in exported] == ["open_app", "click", "answer", "status"]
    (mw, mh), (iw, ih) = (Trajectory.load(tmp_path).steps[1]["geometry"][k] for k in ("model", "input"))
    assert (exported[1]["x"], exported[1]["y"]) == (int(546 * iw / mw), int(1204 * ih / mh))


def test_on_screen_keyboard_types(env):
    run(env, action="open", text="Notes")
    tap_id(env, "new_note")
    for key in ("key_h", "key_i", "key_space", "key_x", "key_del"):
        tap_id(env, key)
    assert state(env)["fields"]["title"] == "hi "
    tap_id(env, "key_enter")
    assert state(env)["focus"] == "body"


def test_unknown_app_and_non_ascii_are_fed_back_to_the_model(env, tmp_path):
    call = '<tool_call>\n{"name": "mobile_use", "arguments": %s}\n</tool_call>'
    texts = [call % '{"action": "open", "text": "Spotify"}', call % '{"action": "open", "text": "Notes"}',
             call % '{"action": "type", "text": "naïve"}', call % '{"action": "type", "text": "naive"}',
             call % '{"action": "terminate", "status": "success"}']
    result = Agent(ReplayModel(texts), env, AgentConfig(max_steps=5, max_retries=1), TrajectoryWriter(tmp_path)).run("x")
    assert result.outcome == "success" and result.steps == 3
    steps = Trajectory.load(tmp_path).steps
    assert "no app called 'Spotify'" in steps[0]["attempts"][1]["feedback"]
    assert "can only type ASCII" in steps[1]["attempts"][1]["feedback"]
    assert state(env)["package"] == "com.sim.notes"


def test_rotation_mid_episode_is_followed(env):
    assert env.reset().info["rotation"] == 0
    env.shell("settings put system user_rotation 1")
    obs = env.observe()
    assert obs.info["rotation"] == 1 and obs.input_size == Size(2400, 1080) and obs.screenshot_size == Size(2400, 1080)
    run(env, ScreenPoint(2300, 1000), action="click")
    assert env.shell("sim last-tap") == "2300 1000"


def test_android_keeps_the_environment_contract(adb_server, phone):
    from environments.conformance import assert_contract

    assert_contract(AndroidEnvironment("emulator-5554", port=adb_server.port, settle=0, retry_seconds=2))
