"""Incremental capture: screenshots built from DAMAGE rectangles must equal full grabs, pixel for pixel.

Every observation in these runs is checked against a full mss grab taken right after it, and every
pixel that differs from the previous screenshot must lie inside the reported damage. The Tk app's text
cursors do not blink, so nothing draws on its own between the two grabs.
"""

from __future__ import annotations

import time

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from agent.geometry import Size
from agent.rects import changed_box, clip, merge_near, total_area
from environments.desktop import DesktopEnvironment
from environments.wrappers import Wrapper
from environments.x11 import capture as capture_module
from tests.desktop.conftest import TkApp, call, run_script, wait_for_pixel
from tests.desktop.tk_app import HANDLE, LIST_BOX, TARGETS, TEXT_BOX


def centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def pixels(image) -> np.ndarray:
    return np.asarray(image).copy()


def full_grab(env: DesktopEnvironment) -> np.ndarray:
    shot = env._grab()
    return np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)[:, :, 2::-1]


def outside(changed: np.ndarray, boxes) -> int:
    """How many changed pixels no box covers."""
    mask = changed.copy()
    for left, top, right, bottom in boxes:
        mask[top:bottom, left:right] = False
    return int(mask.sum())


class Checked(Wrapper):
    """Checks every observation against a full grab and the previous screenshot; keeps copies of all."""

    def __init__(self, env: DesktopEnvironment) -> None:
        super().__init__(env)
        self.kept: list[tuple[object, np.ndarray]] = []
        self.damages = []

    def reset(self):
        return self._check(self.env.reset())

    def observe(self):
        return self._check(self.env.observe())

    def _check(self, obs):
        now = pixels(obs.screenshot)
        grab = full_grab(self.env)
        assert np.array_equal(now, grab), \
            f"frame {obs.frame} differs from a full grab at {changed_box(Image.fromarray(now), Image.fromarray(grab))}"
        if obs.damage is not None:
            previous, before = self.kept[-1]
            assert obs.damage.since == previous.frame
            changed = (now != before).any(axis=2)
            assert outside(changed, obs.damage.boxes) == 0, (obs.damage, np.argwhere(changed)[:5])
            self.damages.append(obs.damage)
        self.kept.append((obs, now))
        return obs


def test_incremental_frames_equal_full_grabs_for_every_action(desktop):
    env, app = desktop
    assert env.capture is not None, "the X server has no DAMAGE extension"
    checked = Checked(env)
    app.command("focus_text")
    wait_until_quiet(env)  # Tk draws the focus ring when the focus event comes back, after the ack
    checked.reset()
    run_script(checked, [
        call("left_click", centre(TARGETS["left"])),
        call("mouse_move", (900, 700)),
        call("double_click", centre(TARGETS["double"])),
        call("right_click", centre(TARGETS["right"])),
        call("left_click_drag", (HANDLE[2] + 100, HANDLE[3] + 40)),
        call("left_click", centre(TEXT_BOX)),
        call("type", text='quotes "\' and\nnon-ASCII: żółw 東京'),
        call("key", keys=["ctrl", "a"]),
        call("scroll", centre(LIST_BOX), pixels=-400),
        call("wait", time=0.1),
    ])
    damaged = [d for d in checked.damages if d.boxes]
    assert len(damaged) >= 5, checked.damages  # clicks recolour targets, typing and scrolling redraw
    assert any(not d.boxes for d in checked.damages), "a step that draws nothing reports no damage"
    share = max(total_area(d.boxes) for d in damaged) / (env.monitor["width"] * env.monitor["height"])
    assert share < 0.5, "damage stays local to what was drawn"
    for obs, kept in checked.kept:  # screenshots handed out never change afterwards
        assert np.array_equal(np.asarray(obs.screenshot), kept), f"frame {obs.frame} was modified"
    app.command("reset_scroll")


def wait_until_quiet(env: DesktopEnvironment, quiet: float = 0.1, timeout: float = 5.0) -> None:
    """Until nothing has been drawn for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    env.observe()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        if not env.observe().damage.boxes:
            return
    raise AssertionError(f"the screen kept changing for {timeout} s")


def test_drawing_by_another_client_is_seen(desktop):
    env, app = desktop
    before = env.observe()
    app.command("target", box=[300, 400, 340, 440])
    try:
        after = env.observe()
        assert after.damage is not None and after.damage.since == before.frame
        assert any(b[0] <= 300 and b[1] <= 400 and b[2] >= 340 and b[3] >= 440 for b in after.damage.boxes)
        assert after.screenshot.getpixel((320, 420)) == (255, 0, 255)
        assert np.array_equal(pixels(after.screenshot), full_grab(env))
    finally:
        app.command("clear_target")


def test_large_damage_is_one_full_grab(desktop):
    env, app = desktop
    before = env.observe()
    w, h = env.monitor["width"], env.monitor["height"]
    app.command("target", box=[0, 0, w, h])
    try:
        after = env.observe()
        assert after.damage.since == before.frame and after.damage.boxes == ((0, 0, w, h),)
        assert np.array_equal(pixels(after.screenshot), full_grab(env))
    finally:
        app.command("clear_target")
        env.observe()


def test_without_damage_tracking_every_frame_is_a_full_grab():
    env = DesktopEnvironment(virtual=Size(640, 480), track_damage=False)
    app = TkApp(env.virtual.environ())
    try:
        wait_for_pixel(env, (104, 104), (0x5A, 0x8D, 0xD6))
        assert env.capture is None and env.describe()["damage_tracking"] is False
        run_script(env, [call("left_click", centre(TARGETS["left"]))])
        obs = env.observe()
        assert obs.damage is None and obs.frame is not None
        assert np.array_equal(pixels(obs.screenshot), full_grab(env))
    finally:
        app.close()
        env.close()


boxes = st.lists(st.tuples(st.integers(-50, 700), st.integers(-50, 500), st.integers(1, 300), st.integers(1, 300))
                 .map(lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])), max_size=40)


@given(boxes)
def test_clip_and_merge_cover_every_damaged_pixel(raw):
    bounds = (20, 10, 660, 490)  # a monitor at +20+10
    clipped = clip(raw, bounds)
    merged = merge_near(clipped)
    assert len(merged) <= 16
    w, h = bounds[2] - bounds[0], bounds[3] - bounds[1]
    want = np.zeros((h, w), bool)
    for left, top, right, bottom in raw:  # root coordinates
        want[max(top - 10, 0):max(bottom - 10, 0), max(left - 20, 0):max(right - 20, 0)] = True
    assert outside(want, merged) == 0
    for left, top, right, bottom in merged:
        assert 0 <= left < right <= w and 0 <= top < bottom <= h


class Keeps(Wrapper):
    """Keeps every observation and a copy of its pixels as they were handed out."""

    def __init__(self, env) -> None:
        super().__init__(env)
        self.kept: list[tuple[object, np.ndarray]] = []

    def reset(self):
        return self._keep(self.env.reset())

    def observe(self):
        return self._keep(self.env.observe())

    def _keep(self, obs):
        self.kept.append((obs, pixels(obs.screenshot)))
        return obs


def test_screenshots_handed_out_never_change_whoever_keeps_them(desktop):
    """No reference counting: a damaged step gets a new image, an undamaged one the same, and every image
    handed out keeps its pixels however long anyone holds it."""
    env, app = desktop
    keeps = Keeps(env)
    run_script(keeps, [call("left_click", centre(TARGETS[name])) for name in ("left", "middle", "cursor")])
    damaged = [(before, after) for (before, _), (after, _) in zip(keeps.kept, keeps.kept[1:], strict=False)
               if after.damage is not None and after.damage.boxes]
    assert len(damaged) >= 2 and all(a.screenshot is not b.screenshot for b, a in damaged)
    assert all(np.array_equal(pixels(obs.screenshot), then) for obs, then in keeps.kept)


def test_a_screenshot_someone_holds_is_copied_not_changed(desktop):
    env, app = desktop
    held = env.observe()
    kept = pixels(held.screenshot)
    app.command("target", box=[300, 400, 340, 440])
    try:
        after = env.observe()
        assert after.damage.boxes and after.screenshot is not held.screenshot
        assert np.array_equal(pixels(held.screenshot), kept)
        image = after.screenshot  # holding only the image (not the observation) counts too
        after = None
        app.command("clear_target")
        again = env.observe()
        assert again.damage.boxes and again.screenshot is not image
        assert image.getpixel((320, 420)) == (255, 0, 255)
    finally:
        app.command("clear_target")


def test_a_repaint_that_changes_nothing_reports_no_damage(desktop):
    env, app = desktop
    box = TARGETS["left"]
    run_script(env, [call("left_click", centre(box))])  # recoloured once ...
    wait_for_pixel(env, (box[0] + 2, box[1] + 2), (0xF0, 0xA0, 0x30))
    before = env.observe()
    drawn, collect = [], env.capture.tracker.collect

    def watched():  # note what DAMAGE reported
        boxes = collect()
        drawn.extend(boxes)
        return boxes

    env.capture.tracker.collect = watched
    try:
        since = app.mark()
        env.execute(to_command_at(env, "left_click", centre(box)))  # ... and again: Tk repaints the same colour
        app.wait_for(lambda e: e["type"] == "click", since=since)
        app.command("clear_target")  # acknowledged after Tk's idle redraws: the repaint is done
        drawn.clear()
        after = env.observe()
    finally:
        env.capture.tracker.collect = collect
    assert any(b[0] <= box[0] + 2 < b[2] and b[1] <= box[1] + 2 < b[3] for b in drawn), drawn
    assert after.damage.since == before.frame and after.damage.boxes == (), after.damage
    assert np.array_equal(pixels(after.screenshot), full_grab(env))


def to_command_at(env, action: str, at):
    from agent.geometry import Geometry, ScreenPoint
    from agent.mapping import to_command
    from tools import get_tool

    geometry = Geometry.for_screenshot(Size(env.monitor["width"], env.monitor["height"]), env.input_size,
                                       origin=env.origin)
    point = geometry.to_model(ScreenPoint(*at))
    return to_command(get_tool("computer_use").validate({"action": action, "coordinate": [point.x, point.y]}), geometry)


@given(st.integers(1, 40), st.integers(1, 40), st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=6))
def test_changed_box_is_the_bounding_box_of_the_changes(w, h, spots):
    old = np.zeros((h, w, 3), np.uint8)
    new = old.copy()
    spots = [(x, y) for x, y in spots if x < w and y < h]
    for x, y in spots:
        new[y, x, 1] = 7
    box = changed_box(Image.fromarray(new), Image.fromarray(old))
    if not spots:
        assert box is None
    else:
        xs, ys = [x for x, _ in spots], [y for _, y in spots]
        assert box == (min(xs), min(ys), max(xs) + 1, max(ys) + 1)


def test_verification_passes_when_damage_is_right(desktop, monkeypatch):
    env, app = desktop
    monkeypatch.setattr(capture_module, "VERIFY_EVERY", 2)
    checked = Checked(env)
    checked.reset()
    run_script(checked, [call("left_click", centre(TARGETS[name])) for name in ("left", "right", "middle", "double")])
    assert env.capture is not None and env.damage_missed is None
    assert len(checked.damages) >= 4


def test_drawing_damage_did_not_report_switches_to_full_grabs(desktop, monkeypatch):
    env, app = desktop
    env.observe()
    collect = env.capture.tracker.collect
    monkeypatch.setattr(env.capture.tracker, "collect", lambda: (collect(), [])[1])  # a driver that reports nothing
    app.command("target", box=[300, 400, 340, 440])
    try:
        unverified = env.observe()
        assert unverified.damage.boxes == () and unverified.screenshot.getpixel((320, 420)) != (255, 0, 255)
        env.capture.unverified = capture_module.VERIFY_EVERY - 1  # the next observation is checked
        checked = env.observe()
        assert env.capture is None and env.damage_missed is not None
        assert checked.info["damage_missed"] == env.damage_missed  # recorded with the step
        assert env.damage_missed[0] <= 300 and env.damage_missed[2] >= 340, env.damage_missed
        assert checked.damage.since == unverified.frame and checked.damage.boxes == ((0, 0, *checked.screenshot.size),)
        assert checked.screenshot.getpixel((320, 420)) == (255, 0, 255)
        assert np.array_equal(pixels(checked.screenshot), full_grab(env))
        assert env.observe().damage is None and env.describe()["damage_missed"] == env.damage_missed
    finally:
        app.command("clear_target")
        restart_tracking(env)


def restart_tracking(env: DesktopEnvironment) -> None:
    """The session fixture's environment is shared: give it DAMAGE back."""
    import os

    from environments.x11.capture import DamageCapture
    from environments.x11.damage import DamageTracker
    from environments.x11.display import connect

    saved = os.environ.get("XAUTHORITY")
    os.environ["XAUTHORITY"] = env.virtual.environ()["XAUTHORITY"]
    try:
        env.capture = DamageCapture(env.sct, env.monitor, DamageTracker(connect(env.display_name)))
        env.damage_missed = None
    finally:
        os.environ.pop("XAUTHORITY") if saved is None else os.environ.update(XAUTHORITY=saved)
    env.observe()


def test_no_drawing_is_missed_under_a_fast_busy_loop(desktop, monkeypatch):
    """Quiet 0 makes observations race the app's repaints. Every 3rd step checks DAMAGE against a full
    grab (race-free: what is drawn during the check is reported next time), and once the app is quiet
    the incremental frame must equal a full grab. Reading DamageNotify events and clearing the damage
    in separate requests lost a repaint here about once per hundred steps."""
    env, app = desktop
    monkeypatch.setattr(capture_module, "VERIFY_EVERY", 3)
    monkeypatch.setattr(env, "settle_quiet", 0.0)
    steps = [call("left_click", centre(TEXT_BOX)), call("type", text="hello "), call("key", keys=["backspace"]),
             call("scroll", centre(LIST_BOX), pixels=-200), call("type", text="x"),
             call("scroll", centre(LIST_BOX), pixels=200), call("key", keys=["ctrl", "a"]), call("type", text="y")]
    run_script(env, steps * 4)
    assert env.capture is not None and env.damage_missed is None, env.damage_missed
    wait_until_quiet(env)
    assert np.array_equal(pixels(env.observe().screenshot), full_grab(env))
    app.command("reset_scroll")


def test_the_help_text_states_the_check_interval():
    import argparse

    from environments.desktop import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert f"checked every {capture_module.VERIFY_EVERY} steps" in " ".join(parser.format_help().split())
