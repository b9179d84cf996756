"""The desktop environment against a real Xvfb and a real Tk app, at three screen sizes.

Every action goes through the whole pipeline as model text in model space (parse → validate → map →
execute), and the assertions are on what the app saw.
"""

from __future__ import annotations

import pytest

from agent.errors import ActionValidationError
from agent.geometry import ScreenPoint
from agent.mapping import to_command
from environments.conformance import assert_conformant, check_environment, default_boxes
from environments.desktop import SCROLL_PIXELS_PER_CLICK
from tests.desktop.conftest import TkTargetDisplay, call, run_script
from tests.desktop.tk_app import HANDLE, LIST_BOX, TARGETS, TEXT_BOX
from tools import get_tool


def centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def inside(event: dict, box) -> bool:
    return box[0] <= event["x"] < box[2] and box[1] <= event["y"] < box[3]


def test_conformance(desktop):
    env, app = desktop
    display = TkTargetDisplay(app, env)
    try:
        checks = check_environment(env, display, default_boxes(env.observe().input_size))
    finally:
        app.command("clear_target")
    assert_conformant(checks, f"desktop {env.input_size}")


@pytest.mark.parametrize("action,button", [("left_click", "left"), ("right_click", "right"),
                                           ("middle_click", "middle")])
def test_clicks_land_on_their_targets(desktop, action, button):
    env, app = desktop
    box = TARGETS[button]
    since = app.mark()
    run_script(env, [call(action, centre(box))])
    event = app.wait_for(lambda e: e["type"] == "click", since=since)
    assert event["button"] == button and inside(event, box), event


def test_double_click(desktop):
    env, app = desktop
    box = TARGETS["double"]
    since = app.mark()
    run_script(env, [call("double_click", centre(box))])
    event = app.wait_for(lambda e: e["type"] == "click" and e["button"] == "double", since=since, what="a double click")
    assert inside(event, box), event


def test_click_without_coordinate_uses_the_cursor(desktop):
    env, app = desktop
    box = TARGETS["cursor"]
    since = app.mark()
    run_script(env, [call("mouse_move", centre(box)), call("left_click")])
    event = app.wait_for(lambda e: e["type"] == "click", since=since)
    assert inside(event, box) and event["button"] == "left", event
    cursor = env.observe().info["cursor"]  # model-space rounding may move it by a pixel
    assert abs(cursor[0] - centre(box)[0]) <= 1 and abs(cursor[1] - centre(box)[1]) <= 1, cursor


def test_drag_moves_the_handle(desktop):
    env, app = desktop
    start = app.command("state")["handle"]
    grab = ((start[0] + start[2]) / 2, (start[1] + start[3]) / 2)
    since = app.mark()
    run_script(env, [call("mouse_move", grab), call("left_click_drag", (grab[0] + 150, grab[1] + 40))])
    dropped = app.wait_for(lambda e: e["type"] == "dropped", since=since, what="the handle to be dropped")
    moved = [b - a for a, b in zip(start, dropped["box"], strict=True)]
    assert all(abs(m - e) <= 1 for m, e in zip(moved, [150, 40, 150, 40], strict=True)), (start, dropped)  # ±1: rounding
    since = app.mark()
    box = dropped["box"]
    run_script(env, [call("mouse_move", ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)), call("left_click_drag", grab)])
    back = app.wait_for(lambda e: e["type"] == "dropped", since=since, what="the handle to be dropped back")["box"]
    assert all(abs(a - b) <= 2 for a, b in zip(back, start, strict=True)), (start, back)


TEXTS = [
    "plain ASCII 123",
    'quotes "double" and \'single\' $HOME `id` ; | & \\ done',
    "two\nlines\tand a tab",
    "non-ASCII: ümlaut café ß 日本語 €5 — ok ✓",
]


@pytest.mark.parametrize("text", TEXTS, ids=["ascii", "quotes", "newlines", "unicode"])
def test_type_round_trips(desktop, text):
    env, app = desktop
    app.command("focus_text")
    run_script(env, [call("left_click", centre(TEXT_BOX)), call("type", text=text)])
    state = wait_for_text(app, text)
    assert state["text"] == text


@pytest.mark.parametrize("extra", [-4, 6], ids=["within-capacity", "rebinding"])
def test_type_many_distinct_characters(desktop, extra):
    """More unmapped characters than spare keycodes hold at once make the typist rebind some mid-text."""
    env, app = desktop
    text = "".join(chr(0x4E00 + i * 7) for i in range(env.typist.capacity + extra))
    app.command("focus_text")
    run_script(env, [call("left_click", centre(TEXT_BOX)), call("type", text=text)])
    assert wait_for_text(app, text)["text"] == text


def wait_for_text(app, text: str, timeout: float = 5.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        state = app.command("state")
        if state["text"] == text or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


@pytest.mark.parametrize("keys,keysym,mods", [
    (["ctrl", "shift", "k"], "K", {"Control", "Shift"}),
    (["Ctrl+A"], "a", {"Control"}),
    (["alt", "F4"], "F4", {"Mod1"}),
    (["Return"], "Return", set()),
    (["escape"], "Escape", set()),
    (["Page_Down"], "Next", set()),
])
def test_key_combinations_fire(desktop, keys, keysym, mods):
    env, app = desktop
    app.command("focus_text")
    since = app.mark()
    run_script(env, [call("key", keys=keys)])
    event = app.wait_for(lambda e: e["type"] == "key" and e["keysym"] == keysym, since=since, what=f"{keysym}")
    masks = {"Shift": 1, "Control": 4, "Mod1": 8}
    assert {name for name, bit in masks.items() if event["state"] & bit} == mods, event


def test_unknown_key_is_fed_back_to_the_model(desktop):
    env, _ = desktop
    action = get_tool("computer_use").validate({"action": "key", "keys": ["ctrl", "hyperdrive"]})
    with pytest.raises(ActionValidationError, match="unknown key 'hyperdrive'"):
        env.execute(to_command(action, _geometry(env)))


def test_scroll_moves_the_view(desktop):
    env, app = desktop
    app.command("reset_scroll")
    inside_list = centre(LIST_BOX)
    run_script(env, [call("scroll", inside_list, pixels=-4 * SCROLL_PIXELS_PER_CLICK)])
    down = wait_for_state(app, lambda s: s["scroll"] > 0)["scroll"]
    run_script(env, [call("scroll", inside_list, pixels=2 * SCROLL_PIXELS_PER_CLICK)])
    up = wait_for_state(app, lambda s: s["scroll"] < down)["scroll"]
    assert 0 <= up < down


def wait_for_state(app, predicate, timeout: float = 5.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        state = app.command("state")
        if predicate(state):
            return state
        assert time.monotonic() < deadline, f"state never matched: {state}"
        time.sleep(0.02)


def _geometry(env):
    from agent.geometry import Geometry

    obs = env.observe()
    return Geometry.for_screenshot(obs.screenshot_size, obs.input_size, origin=obs.origin)


def test_handle_and_targets_fit_every_size():
    for box in [*TARGETS.values(), HANDLE, TEXT_BOX, LIST_BOX]:
        assert box[2] <= 1280 and box[3] <= 720
    assert ScreenPoint(0, 0).pixel() == (0, 0)


def test_wait_waits_and_terminate_failure_ends_the_episode(desktop):
    import time

    from agent.loop import Agent, AgentConfig
    from agent.models import ReplayModel

    env, _ = desktop
    texts = ['<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 0.3}}\n</tool_call>',
             '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "failure"}}\n'
             '</tool_call>']
    started = time.monotonic()
    result = Agent(ReplayModel(texts), env, AgentConfig(max_steps=3)).run("wait, then give up")
    assert time.monotonic() - started >= 0.3
    assert result.outcome == "failure" and result.steps == 2, result
