"""The recorder turns each kind of a person's input into the action a model would have written."""

from __future__ import annotations

from agent.regression.live import LiveOptions, LiveReplay
from agent.trajectory import Trajectory
from tests.regression.conftest import DomGroundingModel
from tests.regression.demonstration import MASKS, Person, record_demo


def every_kind_of_input(person: Person) -> None:
    page = person.page
    person.click("#username")
    page.keyboard.type("alicex")
    person.press("Backspace")  # ends the typing run: a key of its own
    page.keyboard.press("Control+a")
    person.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type("wonderland")
    person.press("Enter")
    box = page.locator("#contact-list li").first.bounding_box()
    x, y = box["x"] + 40, box["y"] + box["height"] / 2
    page.mouse.dblclick(x, y)
    person.recorder.poll()
    page.mouse.click(x, y, button="right")
    person.recorder.poll()
    page.mouse.move(640, 500)
    page.mouse.wheel(0, 120)
    page.mouse.wheel(0, 120)  # one scroll of 240 px
    person.recorder.poll()
    page.mouse.move(300, 600)
    page.mouse.down()
    page.mouse.move(400, 620, steps=5)
    page.mouse.up()
    person.recorder.poll()


def test_every_kind_of_input_is_recorded_and_replays(browser, server, tmp_path, live_env):
    out = record_demo(browser, server, tmp_path / "kinds", "exercise every input", every_kind_of_input)
    steps = Trajectory.load(out).steps
    actions = [s["action"] for s in steps]
    names = [a["action"] for a in actions]
    assert names == ["left_click", "type", "key", "key", "type", "key", "type", "key", "double_click", "right_click",
                     "scroll", "mouse_move", "left_click_drag", "terminate"], names
    assert actions[1]["text"] == "alicex" and actions[2]["keys"] == ["backspace"]
    assert actions[3]["keys"] == ["ctrl", "a"] and actions[5]["keys"] == ["tab"] and actions[7]["keys"] == ["enter"]
    assert actions[10]["pixels"] < 0  # down, in model pixels (positive scrolls up)
    assert abs(steps[10]["screen_points"]["coordinate"][1] - 500) < 1
    assert steps[8]["result"]["info"]["target"].startswith("span")  # the element hit is kept for healing
    # the demonstration replays live with no model call
    live = live_env(server.url("demo/"))
    report = LiveReplay(Trajectory.load(out), live, tmp_path / "replay", LiveOptions(mask_selectors=MASKS),
                        model=DomGroundingModel(live)).run()
    assert report.passed and report.model_calls == 0, report.summary()
    assert live.page.evaluate("window.__demoState.signedIn") is True
