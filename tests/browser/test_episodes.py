"""Whole episodes in a real Chromium: feedback of a bad key, the allowlist, a dying browser, the demo task."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.geometry import Geometry, ScreenPoint, Size
from agent.loop import Agent, AgentConfig
from agent.models.base import Generation
from agent.models.replay import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.browser import BrowserEnvironment
from environments.webapps import DEMO_TASKS
from environments.webapps.policy import PLANS, ScriptedPolicy, tool_call


def test_unknown_key_is_fed_back_and_the_next_answer_is_executed(make_env, tmp_out: Path) -> None:
    env = make_env()
    env.page.focus("#line")
    model = ReplayModel([
        tool_call({"action": "key", "keys": ["ctrl", "hyperspace"]}),
        tool_call({"action": "type", "text": "ok"}),
        tool_call({"action": "terminate", "status": "success"}),
    ])
    result = Agent(model, env, AgentConfig(max_steps=3), TrajectoryWriter(tmp_out)).run("Type ok.")
    assert result.outcome == "success" and result.steps == 2
    assert "unknown key 'hyperspace'" in model.prompts[1].user  # the feedback reached the second prompt
    assert env.page.eval_on_selector("#line", "e => e.value") == "ok"
    first = Trajectory.load(tmp_out).steps[0]["attempts"]
    assert len(first) == 2 and "hyperspace" in first[0]["error"]


def test_navigation_outside_the_allowlist_is_blocked(make_env, server) -> None:
    env = make_env(allow_domains=("127.0.0.1",))
    outside = server.url("demo/").replace("127.0.0.1", "localhost")  # loopback too, but another domain
    env.page.eval_on_selector("#away", "(a, url) => { a.href = url; a.style.visibility = 'visible'; }", outside)
    box = env.page.locator("#away").bounding_box()
    from environments.base import Command
    from tools import get_tool

    action = get_tool("computer_use").validate({"action": "left_click", "coordinate": [1, 1]})
    result = env.execute(Command(action, ScreenPoint(box["x"] + 5, box["y"] + 5)))
    assert result.info["blocked_navigation"] == [outside]
    assert "Navigation blocked" in env.page.inner_text("body")  # what the model sees in the next screenshot
    assert not env.page.evaluate("!!window.__demoState")
    with pytest.raises(ConfigError, match="allow-domain"):
        env.goto(outside)
    env.goto(server.url("demo/"))  # the allowed domain still works
    assert env.page.evaluate("!!window.__demoState")


def test_url_outside_the_allowlist_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="allow-domain"):
        BrowserEnvironment("https://example.com/", allow_domains=("127.0.0.1",))


class ClosingModel:
    """Clicks once, then closes the browser under the agent's feet and answers another click."""

    name = "closer"

    def __init__(self, env: BrowserEnvironment) -> None:
        self.env, self.calls = env, 0

    def generate(self, prompt) -> Generation:
        self.calls += 1
        if self.calls == 2:
            self.env.context.close()
        return Generation(tool_call({"action": "left_click", "coordinate": [10, 10]}))

    def describe(self) -> dict:
        return {"backend": "test", "name": self.name}


def test_closed_browser_ends_the_episode_with_error_and_a_complete_trajectory(make_env, tmp_out: Path) -> None:
    env = make_env()
    result = Agent(ClosingModel(env), env, AgentConfig(max_steps=5), TrajectoryWriter(tmp_out)).run("Click.")
    assert result.outcome == "error"
    assert "BrowserGone" in result.reason and "closed" in result.reason
    trajectory = Trajectory.load(tmp_out)
    assert trajectory.result is not None and trajectory.result["outcome"] == "error"
    assert [s["index"] for s in trajectory.steps] == [1, 2] and not trajectory.torn


def test_crashed_page_ends_the_episode_with_error(make_env, tmp_out: Path) -> None:
    env = make_env()

    class Crasher(ClosingModel):
        def generate(self, prompt) -> Generation:
            with contextlib.suppress(Exception):  # the crash itself is what we want
                self.env.page.goto("chrome://crash", timeout=5000)
            return Generation(tool_call({"action": "left_click", "coordinate": [10, 10]}))

    result = Agent(Crasher(env), env, AgentConfig(max_steps=3), TrajectoryWriter(tmp_out)).run("Click.")
    assert result.outcome == "error" and "crash" in result.reason
    assert json.loads((tmp_out / "result.json").read_text())["outcome"] == "error"


@pytest.mark.parametrize(("viewport", "scale"), [(Size(1280, 720), 1.0), (Size(390, 844), 2.0)], ids=["desktop", "phone-dsf2"])
def test_demo_task_solved_through_the_full_pipeline(make_env, tmp_out: Path, viewport: Size, scale: float) -> None:
    task = DEMO_TASKS["signin-notifications"]
    env = make_env(viewport, scale, path=task.path)
    policy = ScriptedPolicy(env.page, PLANS[task.name], viewport)
    result = Agent(policy, env, AgentConfig(max_steps=12), TrajectoryWriter(tmp_out, image_format="jpeg")).run(
        task.instruction)
    state = env.page.evaluate("window.__demoState")
    assert result.outcome == "success" and task.check(state), (result, state)
    steps = Trajectory.load(tmp_out).steps
    clicks = [s for s in steps if s["action"]["action"] == "left_click"]
    for step in clicks:  # each click landed inside the element the policy aimed at
        x, y = step["screen_points"]["coordinate"]
        x1, y1, x2, y2 = step["result"]["info"]["target_box"]
        assert x1 <= x <= x2 and y1 <= y <= y2
    assert all("settle_ms" in s["result"]["info"] for s in steps if s["action"]["action"] != "terminate")
    geometry = Geometry.from_dict(steps[0]["geometry"])
    assert geometry.input == viewport and geometry.screenshot == Size(round(viewport.width * scale),
                                                                      round(viewport.height * scale))


def test_search_task(make_env, tmp_out: Path) -> None:
    task = DEMO_TASKS["search-contact"]
    env = make_env(path=task.path)
    result = Agent(ScriptedPolicy(env.page, PLANS[task.name], env.viewport), env, AgentConfig(max_steps=10),
                   TrajectoryWriter(tmp_out)).run(task.instruction)
    assert result.outcome == "success"
    assert task.check(env.page.evaluate("window.__demoState"))
    assert env.page.locator("#contact-list li").count() == 1


def test_a_new_tab_becomes_the_observed_page_and_closing_it_returns(make_env, server) -> None:
    env = make_env()
    env.page.eval_on_selector("#away", "(a, url) => { a.href = url; a.target = '_blank'; }", server.url("demo/"))
    box = env.page.locator("#away").bounding_box()
    from environments.base import Command
    from tools import get_tool

    action = get_tool("computer_use").validate({"action": "left_click", "coordinate": [1, 1]})
    env.execute(Command(action, ScreenPoint(box["x"] + 5, box["y"] + 5)))
    assert env.observe().info["url"] == server.url("demo/")
    assert env.page.evaluate("!!window.__demoState")
    env.page.evaluate("window.close()")
    assert env.observe().info["url"].endswith("probe.html")


def test_unreachable_url_is_an_environment_failure(make_env) -> None:
    import socket

    from environments.browser import PageLoadFailed

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = make_env()
    with pytest.raises(PageLoadFailed, match=f"could not load http://127.0.0.1:{port}/.*ERR_CONNECTION_REFUSED"):
        env.goto(f"http://127.0.0.1:{port}/")
