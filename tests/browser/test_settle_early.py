"""The settle's early path: a page with nothing left to run is settled two frames after its last change;
anything still scheduled soon (timeout, animation frame, short interval) or unseeable (a message channel)
keeps the 40 ms quiet window."""

from __future__ import annotations

import pytest

from agent.geometry import ScreenPoint, Size
from environments.base import Command
from tools import get_tool

TOOL = get_tool("computer_use")
_BUTTON = """(handler) => {
  const b = document.createElement('button'); b.id = 'go'; b.textContent = 'go';
  b.style.cssText = 'position: absolute; left: 600px; top: 600px; width: 100px; height: 40px';
  document.body.append(b);
  b.addEventListener('click', new Function(handler));
}"""


def click_with(env, handler: str) -> dict:
    env.page.evaluate(_BUTTON, handler)
    env.settle()
    command = Command(TOOL.validate({"action": "left_click", "coordinate": [1, 1]}), ScreenPoint(650, 620))
    return env.execute(command).info


@pytest.fixture
def env(make_env):
    return make_env(Size(1280, 720), 1.0)


def test_a_change_with_nothing_scheduled_settles_after_two_frames(env) -> None:
    info = click_with(env, "document.body.dataset.clicked = 'yes';")
    assert info["settled"] is True and info["settle_quiet"] == "frames"
    assert env.page.evaluate("document.body.dataset.clicked") == "yes"


def test_a_pending_animation_frame_blocks_the_early_path(env) -> None:
    info = click_with(env, """window.drawn = 0; const step = () => {
        document.body.dataset.frame = ++window.drawn; if (window.drawn < 12) requestAnimationFrame(step); };
        requestAnimationFrame(step);""")
    # The early path is never taken while a frame callback is pending: if it decided, the loop had ended.
    # (The quiet window may decide earlier when frames come > 40 ms apart on a loaded machine.)
    assert info["settled"] is True
    assert info["settle_quiet"] == "window" or env.page.evaluate("window.drawn") == 12


def test_a_short_interval_keeps_the_quiet_window(env) -> None:
    info = click_with(env, "document.body.dataset.clicked = 'yes'; setInterval(() => {}, 30);")
    assert info["settled"] is True and info["settle_quiet"] == "window"


def test_a_source_the_script_cannot_follow_keeps_the_quiet_window(env) -> None:
    info = click_with(env, """const c = new MessageChannel();
        c.port1.onmessage = () => { document.body.dataset.echo = 'back'; }; c.port2.postMessage(1);
        document.body.dataset.clicked = 'yes';""")
    assert info["settled"] is True and info["settle_quiet"] == "window"


def test_only_a_timeout_due_within_the_quiet_window_blocks_the_early_path(env) -> None:
    # a timeout due far beyond the window (MiniWoB++'s episode timer) is not work coming now
    info = click_with(env, "document.body.dataset.clicked = 'yes'; clearTimeout(window.later); "
                           "window.later = setTimeout(() => {}, 30000);")
    assert info["settle_quiet"] == "frames"
    # a chain of 10 ms timeouts running for 300 ms always has one due within it
    info = click_with(env, """let n = 0; const tick = () => { if (++n < 30) setTimeout(tick, 10); };
        document.body.dataset.clicked = 'again'; setTimeout(tick, 10);""")
    assert info["settle_quiet"] == "window"


_FORM = """([action, prevent, how]) => {
  const f = document.createElement('form'); f.method = 'get'; f.action = action;  // a GET form: ?ms= from its field
  f.innerHTML = '<input type="hidden" name="ms" value="2000">';
  const b = document.createElement('button'); b.type = 'submit'; f.append(b); document.body.append(f);
  if (prevent) f.addEventListener('submit', (e) => e.preventDefault());
  if (how === 'submit()') f.submit(); else f.requestSubmit(b);
  return window.__guiAgent.settle(40, 150);  // asked in the same task as the submission: nothing has started yet
}"""


@pytest.mark.parametrize("how", ["requestSubmit", "submit()"])
def test_a_submitted_form_is_a_navigation_on_its_way_before_it_starts(env, server, how: str) -> None:
    """Chromium starts a form's navigation in a later task: a settle asked before then must not call the page
    settled (it did, and the next step met "Execution context was destroyed"). The target answers after 2 s, so
    the old document is still there when the settle gives up after 150 ms."""
    state = env.page.evaluate(_FORM, [server.url("delay"), False, how])
    assert state["busy"] == "navigation", state


def test_a_prevented_submission_is_no_navigation(env, server) -> None:
    state = env.page.evaluate(_FORM, [server.url("delay"), True, "requestSubmit"])
    assert state["busy"] is None, state


def test_a_click_that_submits_a_form_returns_on_the_new_page(env, server) -> None:
    env.page.evaluate("""(action) => {
      const f = document.createElement('form'); f.method = 'get'; f.action = action;
      f.innerHTML = '<input type="hidden" name="ms" value="300">';
      const b = document.createElement('button'); b.type = 'submit'; b.textContent = 'send';
      b.style.cssText = 'position: absolute; left: 600px; top: 600px; width: 100px; height: 40px';
      f.append(b); document.body.append(f);
    }""", server.url("delay"))
    env.settle()
    command = Command(TOOL.validate({"action": "left_click", "coordinate": [1, 1]}), ScreenPoint(650, 620))
    info = env.execute(command).info
    assert info["settled"] is True and "/delay" in env.page.url, (info, env.page.url)
    assert "delayed_ms" in env.page.evaluate("document.body.innerText")  # the new document, loaded and usable
