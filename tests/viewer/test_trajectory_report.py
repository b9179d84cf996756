"""`gui-agent view` of a run, loaded in real Chromium from file:// with the network refused: one section per
step, every screenshot shown, every marker exactly on the recorded screen point (HiDPI, monitor origin)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.geometry import Geometry, Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from agent.viewer import render_step, step_marks
from environments.base import Observation
from environments.canvas import CanvasEnvironment


def call(tool: str = "computer_use", **arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': tool, 'arguments': arguments})}\n</tool_call>"


class MonitorCanvas(CanvasEnvironment):
    """A canvas that is the second monitor of a virtual screen: its (0, 0) is at ``origin``."""

    def __init__(self, size: Size, scale: float, origin: tuple[int, int], tool: str = "computer_use") -> None:
        super().__init__(size, scale, tool)
        self.origin = origin

    def observe(self) -> Observation:
        o = super().observe()
        return Observation(o.screenshot, o.input_size, self.origin, o.info)


def record(tmp_path: Path, texts: list[str], env) -> Trajectory:
    Agent(ReplayModel(texts), env, AgentConfig(max_steps=10), TrajectoryWriter(tmp_path / "run")).run("try the report")
    return Trajectory.load(tmp_path / "run")


def marker_positions(page) -> list[dict]:
    """Each marker's ring centre in the image's input space, measured from the rendered boxes."""
    return page.evaluate("""() => [...document.querySelectorAll('section.step')].map(section => {
        const shot = section.querySelector('.shot'), img = shot.querySelector('img');
        const r = img.getBoundingClientRect(), w = +shot.dataset.width, h = +shot.dataset.height;
        return {step: +section.dataset.step, loaded: img.complete && img.naturalWidth > 0,
                markers: [...section.querySelectorAll('.marker')].map(m => {
                  const c = m.querySelector('circle.ring').getBoundingClientRect();
                  const e = m.querySelector('circle.end');
                  const ec = e ? e.getBoundingClientRect() : null;
                  const at = (b) => [(b.left + b.width / 2 - r.left) * w / r.width, (b.top + b.height / 2 - r.top) * h / r.height];
                  return {kind: m.dataset.kind, at: at(c), end: ec ? at(ec) : null};
                })};
    })""")


TEXTS = [
    call(action="left_click", coordinate=[658, 364]),
    call(action="double_click", coordinate=[100, 700]),
    call(action="left_click_drag", coordinate=[1200, 20]),
    call(action="type", text="<b>not html</b>"),
    "no call at all",
    call(action="scroll", pixels=-200, coordinate=[5, 5]),
    call(action="terminate", status="success"),
]


@pytest.mark.parametrize("scale,origin", [(2.0, (1920, 0)), (1.0, (0, 0)), (1.5, (-1280, 300))])
def test_markers_sit_on_the_recorded_screen_points(tmp_path: Path, open_report, scale, origin) -> None:
    t = record(tmp_path, TEXTS, MonitorCanvas(Size(1280, 720), scale, origin))
    assert main(["view", str(t.path)]) == 0
    page = open_report(t.path / "report.html")
    steps = marker_positions(page)
    assert [s["step"] for s in steps] == [s["index"] for s in t.steps] == [1, 2, 3, 4, 5, 6]
    assert all(s["loaded"] for s in steps), "every screenshot is shown"
    assert all(u.startswith("file://") for u in page.requests) and len(page.requests) >= 7
    expected = {1: ("left_click", [658, 364]), 2: ("double_click", [100, 700]), 3: ("drag", [1200, 20]),
                5: ("scroll", [5, 5])}
    for step, shown in zip(t.steps, steps, strict=True):
        if step["index"] not in expected:
            assert shown["markers"] == []  # typing has no place on the screen
            continue
        kind, model_point = expected[step["index"]]
        (marker,) = shown["markers"]
        assert marker["kind"] == kind
        screen = step["screen_points"]["coordinate"]
        geometry = Geometry.from_dict(step["geometry"])
        assert screen == pytest.approx([origin[0] + model_point[0] * 1280 / geometry.model.width,
                                        origin[1] + model_point[1] * 720 / geometry.model.height])
        target = marker["end"] if kind == "drag" else marker["at"]
        assert target == pytest.approx([screen[0] - origin[0], screen[1] - origin[1]], abs=1.0)
        if kind == "drag":  # it starts where the pointer was: the previous step's point
            before = t.steps[1]["screen_points"]["coordinate"]
            assert marker["at"] == pytest.approx([before[0] - origin[0], before[1] - origin[1]], abs=1.0)
    text = page.inner_text("body")
    assert "<b>not html</b>" in text and "no call at all" in text  # model text shown as text, never as markup
    assert page.locator("#outcome").inner_text() == "success"


def test_swipe_is_drawn_from_start_to_end(tmp_path: Path, open_report) -> None:
    env = CanvasEnvironment(Size(360, 800), 3.0, tool="mobile_use")
    t = record(tmp_path, [call("mobile_use", action="swipe", coordinate=[100, 600], coordinate2=[100, 100]),
                          call("mobile_use", action="terminate", status="success")], env)
    assert main(["view", str(t.path)]) == 0
    (first, _) = marker_positions(open_report(t.path / "report.html"))
    (marker,) = first["markers"]
    points = t.steps[0]["screen_points"]
    assert marker["kind"] == "swipe"
    assert marker["at"] == pytest.approx(points["coordinate"], abs=1.0)
    assert marker["end"] == pytest.approx(points["coordinate2"], abs=1.0)


def test_render_step_draws_the_click_on_the_physical_pixel(tmp_path: Path) -> None:
    t = record(tmp_path, [call(action="left_click", coordinate=[300, 200]), call(action="terminate", status="success")],
               MonitorCanvas(Size(1280, 720), 2.0, (1920, 0)))
    step = t.steps[0]
    image = render_step(t.screenshot(step), Geometry.from_dict(step["geometry"]), step_marks(step))
    sx, sy = step["screen_points"]["coordinate"]
    x, y = round((sx - 1920) * 2), round(sy * 2)  # HiDPI: two screenshot pixels per input pixel
    ring = [image.getpixel((x + dx, y)) for dx in range(-30, 31)]
    assert (230, 25, 75) in ring and image.getpixel((x, y)) == (230, 25, 75)  # the crosshair's centre
    assert t.screenshot(step).getpixel((x, y)) != (230, 25, 75)


def test_view_refuses_a_directory_without_a_run(tmp_path: Path, capsys) -> None:
    assert main(["view", str(tmp_path)]) == 2
    assert "neither a run" in capsys.readouterr().err


def test_run_report_flag_writes_and_prints_the_path(tmp_path: Path, capsys) -> None:
    from agent.models.testing import ScriptedServer

    answers = [call(action="left_click", coordinate=[10, 10]), call(action="terminate", status="success")]
    texts = iter(answers)
    record(tmp_path, answers, CanvasEnvironment(Size(640, 360)))  # what the replay environment serves
    with ScriptedServer(lambda body: next(texts)) as server:
        code = main(["run", "again", "--env", "replay", "--from", str(tmp_path / "run"), "--base-url", server.base_url,
                     "--model", "qwen", "--out", str(tmp_path / "again"), "--report"])
    err = capsys.readouterr().err
    assert code in (0, 1)
    assert (tmp_path / "again" / "report.html").is_file()
    assert f"report: {(tmp_path / 'again' / 'report.html')}" in err.replace("\n", "")


def test_report_of_a_shipped_session_written_elsewhere(tmp_path: Path, open_report) -> None:
    from agent.demo import session_dir

    session = session_dir("signin-notifications")
    out = tmp_path / "elsewhere" / "demo.html"
    out.parent.mkdir()
    assert main(["view", str(session), "--out", str(out)]) == 0
    assert not (session / "report.html").exists()
    page = open_report(out)
    assert page.locator("section.step").count() == 8
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
