"""Every computer_use action executed in a real Chromium, asserted on what the page received."""

from __future__ import annotations

import time

import pytest

from agent.errors import ActionValidationError
from agent.geometry import ScreenPoint, Size
from environments.base import Command
from environments.make import make_env as compose
from tools import get_tool

TOOL = get_tool("computer_use")


def command(arguments: dict, point: tuple[float, float] | None = None, end=None, scroll=None) -> Command:
    """A Command as the loop builds it; coordinates in the action are dummies (model space is unused here)."""
    return Command(TOOL.validate(arguments), ScreenPoint(*point) if point else None,
                   ScreenPoint(*end) if end else None, scroll)


def probe(env, expression: str):
    return env.page.evaluate(f"window.__probe.{expression}")


@pytest.fixture
def env(make_env):
    return make_env(Size(1280, 720), 1.0)


@pytest.mark.parametrize(("action", "event", "button"), [
    ("left_click", "click", 0), ("right_click", "contextmenu", 2), ("middle_click", "auxclick", 1),
])
def test_clicks_with_coordinate(env, action, event, button) -> None:
    result = env.execute(command({"action": action, "coordinate": [1, 1]}, (700.5, 400.5)))
    events = [e for e in probe(env, "events") if e["type"] == event]
    assert events and events[-1]["button"] == button
    assert (events[-1]["x"], events[-1]["y"]) == (700, 400) or abs(events[-1]["x"] - 700.5) <= 1
    assert "settle_ms" in result.info and result.info["settled"] is True
    assert result.info["target_box"][0] <= 700.5 <= result.info["target_box"][2]


def test_click_without_coordinate_uses_the_cursor(env) -> None:
    env.execute(command({"action": "mouse_move", "coordinate": [1, 1]}, (321, 222)))
    assert probe(env, "move") == [321, 222]
    env.execute(command({"action": "left_click"}))
    assert probe(env, "lastClick") == [321, 222]
    env.execute(command({"action": "double_click"}))
    dbl = [e for e in probe(env, "events") if e["type"] == "dblclick"]
    assert len(dbl) == 1 and (dbl[0]["x"], dbl[0]["y"]) == (321, 222)


def test_double_click_with_coordinate(env) -> None:
    env.execute(command({"action": "double_click", "coordinate": [1, 1]}, (900, 600)))
    types = [e["type"] for e in probe(env, "events")]
    assert types.count("click") == 2 and types.count("dblclick") == 1


def test_drag_from_cursor_to_coordinate(env) -> None:
    env.execute(command({"action": "mouse_move", "coordinate": [1, 1]}, (600, 300)))
    result = env.execute(command({"action": "left_click_drag", "coordinate": [1, 1]}, (900, 500)))
    downs, ups = probe(env, "downs"), probe(env, "ups")
    assert (downs[-1]["x"], downs[-1]["y"]) == (600, 300)
    assert (ups[-1]["x"], ups[-1]["y"]) == (900, 500)
    assert probe(env, "moves") > 2  # the pointer travelled, not teleported
    assert env.cursor == ScreenPoint(900, 500) and "settle_ms" in result.info


@pytest.mark.parametrize("text", ['He said "hi" & it\'s <b>', "two\nlines\n", "naïve café — 日本語 🙂", "tab\there"])
def test_type_text_exactly(env, text) -> None:
    env.execute(command({"action": "left_click", "coordinate": [1, 1]}, (170, 110)))  # the textarea
    env.execute(command({"action": "type", "text": text}))
    assert env.page.eval_on_selector("#editor", "e => e.value") == text.replace("\t", "") or \
        env.page.eval_on_selector("#editor", "e => e.value") == text


def test_key_combination_ctrl_a_replaces_text(env) -> None:
    env.execute(command({"action": "left_click", "coordinate": [1, 1]}, (170, 190)))  # the one-line input
    env.execute(command({"action": "type", "text": "old text"}))
    env.execute(command({"action": "key", "keys": ["ctrl", "a"]}))
    env.execute(command({"action": "type", "text": "new"}))
    assert env.page.eval_on_selector("#line", "e => e.value") == "new"
    ctrl_a = [k for k in probe(env, "keys") if k["key"] == "a"]
    assert ctrl_a and ctrl_a[-1]["ctrl"] is True


@pytest.mark.parametrize(("keys", "seen"), [
    (["Return"], "Enter"), (["esc"], "Escape"), (["pagedown"], "PageDown"), (["Page_Up"], "PageUp"),
    (["BackSpace"], "Backspace"), (["cmd", "c"], "Meta"), (["shift", "Tab"], "Tab"), (["ctrl+shift+k"], "K"),
])
def test_model_key_names(env, keys, seen) -> None:
    env.execute(command({"action": "key", "keys": keys}))
    assert seen in [k["key"] for k in probe(env, "keys")]


def test_unknown_key_is_a_validation_error_and_nothing_is_pressed(env) -> None:
    with pytest.raises(ActionValidationError, match="unknown key 'hyperdrive'"):
        env.execute(command({"action": "key", "keys": ["ctrl", "hyperdrive"]}))
    assert probe(env, "keys") == []


def test_scroll_by_the_models_pixels_at_the_cursor(make_env) -> None:
    env = make_env(Size(1280, 720), 1.0, path="probe.html?tall=1")
    result = env.execute(command({"action": "scroll", "pixels": -300}, scroll=-300.0))
    assert probe(env, "wheel") == 300  # negative pixels scroll down
    assert env.page.evaluate("scrollY") == 300, "the settle must wait until the scroll finished"
    assert result.info["settled"] is True
    env.execute(command({"action": "scroll", "pixels": 100, "coordinate": [1, 1]}, (640, 360), scroll=100.0))
    assert env.page.evaluate("scrollY") == 200
    assert env.cursor == ScreenPoint(640, 360)


def test_wait_and_terminate_are_the_frameworks(env) -> None:
    composed = compose(env, max_steps=5)
    composed.reset()
    started = time.perf_counter()
    result = composed.execute(command({"action": "wait", "time": 0.2}))
    assert time.perf_counter() - started >= 0.2 and result.info["waited_s"] == 0.2 and result.info["settled"]
    assert composed.execute(command({"action": "terminate", "status": "success"})).done is False
    with pytest.raises(ActionValidationError, match="not available in the browser"):
        env.execute(command({"action": "wait", "time": 0.2}))  # the adapter itself only does device verbs


def test_settle_waits_for_requests_in_flight(env) -> None:
    result = env.execute(command({"action": "left_click", "coordinate": [1, 1]}, (400, 80)))  # fetch /delay 400 ms
    assert env.page.inner_text("#status") == "loaded"  # read at once: the settle already waited for it
    # (How long the settle itself waited is not asserted: on a loaded machine the click can take part of the 400 ms.)
    assert result.info["settle_ms"] > 0 and result.info["settled"] is True


def test_settle_waits_for_animations(env) -> None:
    result = env.execute(command({"action": "left_click", "coordinate": [1, 1]}, (400, 140)))  # 300 ms transition
    # What matters: when execute returns, the transition has finished. (Its waiting time is not asserted: on a
    # loaded machine the click itself can take most of the 300 ms, leaving the settle less to wait.)
    assert env.page.evaluate("document.getAnimations().filter(a => a.playState === 'running').length") == 0
    assert result.info["settle_ms"] > 0 and result.info["settled"] is not False


def test_observation_sizes_and_info(make_env) -> None:
    env = make_env(Size(390, 844), 2.0)
    observation = env.observe()
    assert observation.screenshot.size == (780, 1688) and observation.input_size == Size(390, 844)
    assert observation.info["capture_ms"] > 0 and observation.info["url"].endswith("probe.html")
    assert env.describe()["device_scale_factor"] == 2.0


def test_settle_compares_screenshots_on_canvas_pages_and_is_bounded(make_env) -> None:
    env = make_env()
    env.settle_timeout_ms = 600
    env.page.evaluate("""() => {
        const c = document.createElement('canvas'); c.width = c.height = 200; document.body.append(c);
        let i = 0; setInterval(() => { const x = c.getContext('2d'); x.fillStyle = `hsl(${i++ * 97}, 90%, 50%)`;
                                       x.fillRect(0, 0, 200, 200); }, 20);
    }""")
    state = env.settle()
    assert state["settle_by"] == "page+screenshot"
    assert state["settled"] is False and state["busy"] == "pixels"  # it never stops: reported, not hung
    assert 550 <= state["settle_ms"] < 600 + 5000  # bounded by the timeout plus one slow look on a loaded machine


_ANIMATE = """([frames, css, parentCss]) => {
    const parent = document.createElement('div'); parent.style.cssText = parentCss; document.body.append(parent);
    const c = document.createElement('canvas'); c.width = c.height = 120; c.style.cssText = css; parent.append(c);
    window.drawn = 0;
    const id = setInterval(() => { const x = c.getContext('2d'); x.fillStyle = `hsl(${window.drawn * 97}, 90%, 50%)`;
                                   x.fillRect(0, 0, 120, 120); if (++window.drawn >= frames) clearInterval(id); }, 20);
}"""


@pytest.mark.parametrize(("css", "parent_css"), [
    ("display: none", ""), ("visibility: hidden", ""), ("opacity: 0", ""), ("", "display: none"),
    ("position: absolute; top: 5000px", ""), ("width: 0; height: 0", ""),
])
def test_a_hidden_canvas_costs_no_pixel_check(make_env, css, parent_css) -> None:
    """MiniWoB++ pages carry a hidden canvas: it cannot change the screenshot, so nothing is compared."""
    env = make_env()
    env.page.evaluate(_ANIMATE, [10_000, css, parent_css])  # draws for minutes
    state = env.settle()
    assert state["settle_by"] == "page" and state["settled"] is True


def test_a_visible_canvas_is_waited_for_until_it_stops_drawing(make_env) -> None:
    env = make_env()
    env.page.evaluate(_ANIMATE, [25, "margin-left: 300px", ""])  # 25 frames, 20 ms apart, then still
    state = env.settle()
    assert state["settle_by"] == "page+screenshot" and state["settled"] is True
    assert env.page.evaluate("window.drawn") == 25  # no frame of the animation was still to come


def test_only_the_visible_canvas_region_is_compared(make_env) -> None:
    env = make_env()
    env.page.evaluate(_ANIMATE, [1, "position: absolute; left: 300px; top: 200px", ""])
    seen, thumbnail = [], env._thumbnail
    env._thumbnail = lambda region=None: seen.append(region) or thumbnail(region)
    state = env.settle()
    assert state["settle_by"] == "page+screenshot" and state["settled"] is True
    assert seen and all(region == [300, 200, 420, 320] for region in seen)  # the canvas, not the viewport


def test_javascript_dialogs_are_dismissed_and_reported(env) -> None:
    env.page.evaluate("""() => document.getElementById('slow').onclick = (e) => {
        e.stopImmediatePropagation(); window.__answer = confirm('Delete everything?'); }""")
    result = env.execute(command({"action": "left_click", "coordinate": [1, 1]}, (400, 80)))
    assert result.info["dialogs_dismissed"] == [{"type": "confirm", "message": "Delete everything?"}]
    assert env.page.evaluate("window.__answer") is False
