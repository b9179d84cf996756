"""The weight-free grounding stand-in heals a moved button from the pictures alone, in-process and over HTTP."""

from __future__ import annotations

from agent.models.openai import OpenAIModel
from agent.models.testing import ScriptedServer
from agent.regression.live import LiveOptions, LiveReplay
from agent.regression.template import TemplateGroundingModel, answer_request
from agent.trajectory import Trajectory
from tests.regression.demonstration import MASKS, VIEWPORT


def _button_box(browser, server) -> dict:
    page = browser.new_page(viewport={"width": VIEWPORT.width, "height": VIEWPORT.height})
    try:
        page.goto(server.url("demo/?variant=moved"))
        return page.locator("#signin-button").bounding_box()
    finally:
        page.close()


def test_template_grounding_heals_the_moved_button(session, live_env, browser, server, tmp_path):
    box = _button_box(browser, server)
    model = TemplateGroundingModel()
    env = live_env(server.url("demo/?variant=moved"))
    report = LiveReplay(Trajectory.load(session), env, tmp_path / "out", LiveOptions(mask_selectors=MASKS),
                        model=model).run()
    assert report.passed, report.summary()
    healed = report.steps[4]
    assert healed.status == "healed" and model.calls == 1
    x, y = healed.new_point
    assert box["x"] <= x <= box["x"] + box["width"] and box["y"] <= y <= box["y"] + box["height"]


def test_template_grounding_does_not_heal_a_missing_tab(session, live_env, server, tmp_path):
    env = live_env(server.url("demo/?variant=gone"))
    report = LiveReplay(Trajectory.load(session), env, tmp_path / "out", LiveOptions(mask_selectors=MASKS),
                        model=TemplateGroundingModel()).run()
    assert not report.passed and report.failed_step.index == 6


def test_template_grounding_over_http(session, live_env, browser, server, tmp_path):
    box = _button_box(browser, server)
    with ScriptedServer(answer_request, models=("template",)) as http:
        model = OpenAIModel(http.base_url, "template")
        env = live_env(server.url("demo/?variant=moved"))
        report = LiveReplay(Trajectory.load(session), env, tmp_path / "out", LiveOptions(mask_selectors=MASKS),
                            model=model).run()
        assert len(http.requests) == 1
    assert report.passed, report.summary()
    x, y = report.steps[4].new_point
    assert box["y"] <= y <= box["y"] + box["height"]
