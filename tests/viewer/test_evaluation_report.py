"""Reports of evaluation directories, in real Chromium from file://: a table per task linking each episode's
report; ScreenSpot pages per split, misses first, filterable, thumbnails with the box and the point."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from agent.cli import main
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.models.base import Generation
from agent.trajectory import TrajectoryWriter
from agent.viewer.evaluation import thumbnail
from environments.canvas import CanvasEnvironment
from tasks.runner import plan, run_units
from tasks.screenspot import evaluate
from tasks.screenspot.data import load
from tasks.screenspot.grounding import QuerySettings
from tests.screenspot.conftest import answer, make_v1


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


def test_eval_directory_gets_a_table_per_task_with_links(tmp_path: Path, open_report) -> None:
    def run_one(unit, directory: Path) -> dict:
        status = "success" if unit.episode == 0 else "failure"
        texts = [call(action="left_click", coordinate=[100 + unit.episode, 50])] * (unit.episode + 1)
        result = Agent(ReplayModel([*texts, call(action="terminate", status=status)]), CanvasEnvironment(Size(640, 360)),
                       AgentConfig(), TrajectoryWriter(directory)).run(unit.task)
        return {"outcome": result.outcome, "reward": 1.0 if status == "success" else 0.0, "steps": result.steps}

    out = tmp_path / "eval"
    run_units(plan(["click-a", "click-b"], 3), run_one, out)
    assert main(["view", str(out)]) == 0
    page = open_report(out / "report.html")
    tables = page.locator("table.episodes")
    assert tables.count() == 2
    assert [t.get_attribute("data-task") for t in tables.all()] == ["click-a", "click-b"]
    rows = page.locator("tr.episode")
    assert rows.count() == 6
    first = rows.nth(0).inner_text()
    assert "success" in first and "1.000" in first
    assert "failure" in rows.nth(2).inner_text() and "\t4\t" in rows.nth(2).inner_text()  # episode 2: 3 clicks + terminate
    assert "33.3%" in page.locator("#summary").inner_text()
    page.locator("tr.episode a").nth(2).click()
    page.wait_for_load_state("load")
    assert page.url.endswith("click-a-002/report.html")
    assert page.locator("section.step").count() == 4
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.locator("text=evaluation").first.click()
    assert page.url.endswith("eval/report.html")
    assert all(u.startswith("file://") for u in page.requests)


class Grounder:
    """Right on mobile, wrong on desktop, no point at all on the web split."""

    def __init__(self, targets) -> None:
        self.targets = {t.instruction: t for t in targets}

    def generate(self, prompt) -> Generation:
        target = next(t for i, t in self.targets.items() if i in prompt.user)
        if target.size == Size(1280, 720):
            return Generation("I cannot find it")
        x, y = target.center if target.size.width == 540 else (target.box[0] - 30, target.box[1] - 20)
        return Generation(answer((max(x, 0), max(y, 0)), target.size, prefill=True))

    def describe(self) -> dict:
        return {"backend": "test"}


def test_screenspot_pages_per_split_misses_first_and_filters(tmp_path: Path, open_report) -> None:
    targets = make_v1(tmp_path / "data")
    out = tmp_path / "ss"
    evaluate(load(tmp_path / "data"), Grounder(targets), out, QuerySettings(min_pixels=3136))
    assert main(["view", str(out)]) == 0
    index = open_report(out / "report.html")
    assert index.locator("#splits tr").count() == 4  # header + mobile, desktop, web
    text = index.locator("#splits").inner_text()
    assert "100.0%" in text and "0.0%" in text
    index.locator("#splits a", has_text="desktop").click()
    index.wait_for_load_state("load")
    samples = index.locator(".sample")
    assert samples.count() == 3
    assert index.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")

    web = open_report(out / "report" / "web.html")
    assert [s.get_attribute("data-correctness") for s in web.locator(".sample").all()] == ["wrong_format"] * 2
    mobile = open_report(out / "report" / "mobile.html")
    mobile.select_option("select[name=correctness]", "miss")
    assert mobile.locator(".sample:not(.hidden)").count() == 0
    mobile.select_option("select[name=correctness]", "")
    mobile.select_option("select[name=ui_type]", "icon")
    assert mobile.locator(".sample:not(.hidden)").count() == 2
    assert "2 of 3 shown" in mobile.inner_text("#count")
    assert all(u.startswith("file://") for u in mobile.requests + web.requests + index.requests)


def test_misses_come_first(tmp_path: Path, open_report) -> None:
    """A split with hits and misses lists the misses before the hits."""
    out = tmp_path / "mixed"
    out.mkdir()
    image = tmp_path / "s.png"
    Image.new("RGB", (400, 300), (240, 240, 240)).save(image)
    rows = [{"task": f"s{i}", "episode": 0, "seed": 0, "split": "web", "platform": "web", "ui_type": "text",
             "instruction": f"thing {i}", "image": str(image), "box": [10, 10, 50, 50], "point": [20, 20],
             "correctness": "correct" if i % 2 else "wrong"} for i in range(6)]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["view", str(out)]) == 0
    page = open_report(out / "report" / "web.html")
    assert [s.get_attribute("data-correctness") for s in page.locator(".sample").all()] == ["wrong"] * 3 + ["correct"] * 3


def test_thumbnail_shows_box_and_point(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (1920, 1080), (255, 255, 255)).save(path)
    thumb = thumbnail(path, [960, 540, 1440, 810], [480, 270], width=480)
    assert thumb.size == (480, 270)
    assert thumb.getpixel((240, 170)) == (60, 180, 75)  # the box's left edge, scaled by 1/4
    assert thumb.getpixel((120, 67))[0] > 200 and thumb.getpixel((120, 67))[1] < 80  # the point's cross
    assert thumb.getpixel((300, 100)) == (255, 255, 255)


def test_eval_report_flag_writes_it_and_prints_the_path(tmp_path: Path, capsys) -> None:
    from agent.models.testing import ScriptedServer

    targets = make_v1(tmp_path / "data")
    by_instruction = {t.instruction: t for t in targets}

    def reply(body: dict) -> str:
        text = next(c["text"] for m in body["messages"] if m["role"] == "user" for c in m["content"] if c["type"] == "text")
        target = by_instruction[text]
        return answer(target.center, target.size, prefill=True)

    out = tmp_path / "ss"
    with ScriptedServer(reply) as server:
        assert main(["eval", "screenspot", "--data", str(tmp_path / "data"), "--base-url", server.base_url,
                     "--model", "qwen", "--out", str(out), "--report"]) == 0
    err = capsys.readouterr().err.replace("\n", "")
    assert (out / "report.html").is_file() and f"report: {out / 'report.html'}" in err
    with ScriptedServer(reply) as server:  # without --report: the command that writes it
        assert main(["eval", "screenspot", "--data", str(tmp_path / "data"), "--base-url", server.base_url,
                     "--model", "qwen", "--out", str(tmp_path / "ss2")]) == 0
    assert f"gui-agent view {tmp_path / 'ss2'}" in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "ss2" / "report.html").exists()
