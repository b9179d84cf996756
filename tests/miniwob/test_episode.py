"""The MiniWoB++ task lifecycle and episode wrapper on real pages: seeding, the page's verdict, timers,
unfinished episodes and unknown tasks."""

from __future__ import annotations

import json

import pytest

from agent.errors import ConfigError
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from tasks.miniwob import MiniWoBEpisode, MiniWoBTask, task_ids
from tasks.runner import Unit
from tests.miniwob.policy import Step, centre

LAYOUT = "() => [core.getUtterance(), document.getElementById('area').innerHTML]"


def test_the_wheel_ships_the_task_pages():
    ids = task_ids()
    assert len(ids) >= 128 and {"click-button", "enter-text", "drag-box", "use-autocomplete"} <= set(ids)
    with pytest.raises(ConfigError, match="did you mean click-button"):
        MiniWoBTask("click-buton")
    with pytest.raises(ConfigError, match="time-limit"):
        MiniWoBTask("click-button", time_limit=-3)


def test_a_seed_fixes_the_episode(suite):
    browser, task = suite.browser(), MiniWoBTask("click-button")
    layouts = {}
    for seed in (0, 1, 2, 3):
        instruction = task.setup(browser, seed)
        layouts[seed] = browser.page.evaluate(LAYOUT)
        assert instruction == layouts[seed][0] and instruction.startswith("Click on the")
        assert browser.page.evaluate("() => [window.scrollX, window.scrollY, document.documentElement.scrollWidth]") \
            == [0, 0, 160]  # nothing beside the task area: the page cannot scroll sideways
    task.setup(browser, 2)
    assert browser.page.evaluate(LAYOUT) == layouts[2]
    assert len({layout[1] for layout in layouts.values()}) >= 3


def test_the_page_not_the_model_decides(suite, tmp_path):
    browser, task, policy = suite.browser(), MiniWoBTask("click-tab"), suite.model
    instruction = task.setup(browser, 4)  # the suite sets the same seed up again: same layout
    wrong = next(n for n in "123" if n != instruction.rsplit("#", 1)[1].rstrip("."))
    click_wrong = policy.to_text(Step("left_click", centre(browser.page, f'#area ul a[href="#tabs-{wrong}"]')))
    terminate = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'
    saved = suite.model, suite.config
    try:
        suite.model, suite.config = ReplayModel([click_wrong]), AgentConfig(max_retries=0)
        wrong_result = suite.run(Unit("click-tab", 0, 4), tmp_path / "wrong")
        suite.model = ReplayModel([terminate])
        claimed = suite.run(Unit("click-tab", 1, 4), tmp_path / "claimed")
        suite.model, suite.config = ReplayModel([_wait(0)] * 3), AgentConfig(max_steps=3, max_retries=0)
        limited = suite.run(Unit("click-tab", 2, 4), tmp_path / "limited")
    finally:
        suite.model, suite.config = saved
    assert wrong_result["outcome"] == "failure" and wrong_result["reward"] == -1.0
    assert wrong_result["agent_outcome"] == "failure" and wrong_result["steps"] == 1
    # the model said "success" without doing anything: the page never ended the episode
    assert claimed["outcome"] == "failure" and claimed["agent_outcome"] == "success" and claimed["reward"] == -1.0
    assert "did not end the episode" in claimed["reason"]
    assert limited["outcome"] == "step_limit" and limited["steps"] == 3 and limited["reward"] == -1.0


def _wait(seconds: float) -> str:
    call = {"name": "computer_use", "arguments": {"action": "wait", "time": seconds}}
    return f"<tool_call>\n{json.dumps(call)}\n</tool_call>"


def test_a_page_that_ended_on_its_own_ends_the_episode_before_the_next_action(suite):
    browser = suite.browser()
    episode = MiniWoBEpisode(browser, MiniWoBTask("click-button", time_limit=0.3), seed=0)
    instruction = episode.start()
    browser.page.wait_for_function("() => WOB_DONE_GLOBAL", timeout=5000)  # the page's own timer fired
    click_cover = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [238, 308]}}\n</tool_call>'
    result = Agent(ReplayModel([click_cover]), episode, AgentConfig(max_retries=0)).run(instruction)
    assert result.outcome == "failure" and "timed out" in result.reason and "not carried out" in result.reason
    assert result.info["raw_reward"] == -1.0
    assert browser.page.evaluate("() => WOB_DONE_GLOBAL")  # the START cover was not clicked


def test_the_task_time_limit_can_be_kept(suite):
    browser = suite.browser()
    MiniWoBTask("click-button", time_limit="task").setup(browser, 0)
    assert browser.page.evaluate("() => core.EPISODE_MAX_TIME") == 10000
    MiniWoBTask("click-button").setup(browser, 0)
    assert browser.page.evaluate("() => core.EPISODE_MAX_TIME") > 24 * 3600 * 1000
