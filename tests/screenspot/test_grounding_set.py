"""`make-grounding-set` on a test page with known elements, in real Chromium, then scored by `eval screenspot`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.geometry import Size
from tasks.grounding_set import ANNOTATIONS, MANIFEST, Screen, build
from tasks.screenspot import evaluate
from tasks.screenspot.data import load
from tasks.screenspot.grounding import QuerySettings
from tests.screenspot.conftest import ScriptedGrounder, centre_oracle

PAGE = Path(__file__).with_name("page.html")
# instruction -> (element whose box it is, data_type)
EXPECTED = {
    "Save button": ("#save", "text"),
    "Documentation link": ("#docs", "text"),
    "Email text box": ("#email", "text"),
    "Close dialog button": ("#close", "icon"),
    "Dark mode checkbox": ("#dark-switch", "icon"),  # a hidden checkbox shown through its label
    "Country drop-down": ("#country", "text"),
    "Help link": ("#help", "icon"),
    "Notifications checkbox": ("#notif-switch", "icon"),  # unlabelled: named by the text beside it
}
SHIPPED = Path(__file__).parents[2] / "tasks" / "data" / "grounding-demo"


def _dom_boxes(viewport: Size) -> dict[str, dict]:
    from environments.browser import BrowserEnvironment

    with BrowserEnvironment(viewport=viewport) as env:
        env.goto(PAGE.resolve().as_uri())
        return {sel: env.page.locator(sel).bounding_box() for sel, _ in EXPECTED.values()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("grounding-set")
    manifest = build([Screen("page", PAGE.resolve().as_uri())], [Size(800, 600), Size(640, 480)], out)
    return out, manifest


def test_elements_boxes_and_types_match_the_dom(built) -> None:
    out, manifest = built
    samples = json.loads((out / ANNOTATIONS).read_text())
    first = [s for s in samples if s["img_filename"] == "page-800x600.png"]
    assert {s["instruction"]: s["data_type"] for s in first} == {k: t for k, (_, t) in EXPECTED.items()}
    boxes = _dom_boxes(Size(800, 600))
    for s in first:
        dom = boxes[EXPECTED[s["instruction"]][0]]
        x, y, w, h = s["bbox"]
        assert abs(x - dom["x"]) <= 1 and abs(y - dom["y"]) <= 1, s
        assert abs(x + w - dom["x"] - dom["width"]) <= 1 and abs(y + h - dom["y"] - dom["height"]) <= 1, s
        assert x <= dom["x"] and x + w >= dom["x"] + dom["width"] - 1e-6  # grown outward, never cut
    shot = manifest["shots"][0]
    assert sorted((d["name"], d["why"]) for d in shot["dropped"]) == [
        ("", "no name"), ("More", "same name twice"), ("more", "same name twice")]
    second = {s["instruction"] for s in samples if s["img_filename"] == "page-640x480.png"}
    assert second == set(EXPECTED) - {"Close dialog button"}  # at x=740 it is off a 640 px wide screen
    assert manifest["samples"] == len(samples) == 2 * len(EXPECTED) - 1
    assert (out / "images" / "page-640x480.png").is_file() and json.loads((out / MANIFEST).read_text())["samples"]


def test_the_set_scores_100_percent_with_box_centres(built, tmp_path: Path) -> None:
    out, _ = built
    dataset = load(out)
    assert dataset.format == "v2" and dataset.splits == ["web"] and not dataset.problems
    summary = evaluate(dataset, ScriptedGrounder(centre_oracle(dataset.samples)), tmp_path / "eval", QuerySettings(3136))
    assert summary["overall"]["all"] == {"correct": 15, "total": 15, "accuracy": 1.0, "wrong_format": 0}


def test_cli_hidpi_and_errors(tmp_path: Path, capsys) -> None:
    out = tmp_path / "hidpi"
    code = main(["make-grounding-set", "--html", str(PAGE), "--viewport", "400x300", "--device-scale-factor", "2",
                 "--out", str(out)])
    assert code == 0
    samples = json.loads((out / ANNOTATIONS).read_text())
    save = next(s for s in samples if s["instruction"] == "Save button")
    assert save["bbox"] == [40, 40, 200, 72] and save["img_filename"] == "page-400x300@2x.png"
    from PIL import Image

    assert Image.open(out / "images" / save["img_filename"]).size == (800, 600)
    assert main(["make-grounding-set", "--out", str(tmp_path / "x")]) == 2
    assert main(["make-grounding-set", "--url", "http://127.0.0.1:9/", "--out", str(tmp_path / "y")]) == 2
    assert main(["make-grounding-set", "--html", str(tmp_path / "missing.html")]) == 2
    err = "".join(capsys.readouterr().err.split())
    assert "isnotafile" in err and "couldnotloadhttp://127.0.0.1:9/" in err


def test_shipped_demo_set_is_small_valid_and_scores_100_percent_with_centres(tmp_path: Path) -> None:
    dataset = load(SHIPPED)
    assert dataset.format == "v2" and len(dataset.samples) >= 20 and not dataset.problems
    assert {s.ui_type for s in dataset.samples} == {"text", "icon"}
    assert sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file()) < 500_000
    summary = evaluate(dataset, ScriptedGrounder(centre_oracle(dataset.samples)), tmp_path / "eval", QuerySettings(3136))
    assert summary["overall"]["all"]["accuracy"] == 1.0 and summary["scored"] == len(dataset.samples)
