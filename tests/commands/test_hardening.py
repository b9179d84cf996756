"""detect/ground hardening: off-image boxes are rejected (not squashed onto the border), a runaway answer
is capped on stdout and kept whole in the JSON file, labels show non-Latin text."""

from __future__ import annotations

import json

from PIL import Image

from agent.commands.common import PRINT_CAP, annotate
from agent.fonts import label_font
from agent.geometry import Geometry, Size
from agent.models.testing import ScriptedServer
from environments.dryrun import draw_command
from tests.commands.conftest import make_screen
from tests.commands.test_detect_ground import run_cli


def test_detect_rejects_boxes_outside_the_image_and_keeps_the_others(tmp_path, capsys):
    image_path = make_screen(tmp_path / "screen.png", (1280, 720), {"ok": (100, 100, 200, 150)})
    model = Geometry.for_screenshot(Size(1280, 720)).model
    answer = json.dumps([{"bbox_2d": [100, 100, 200, 150], "label": "ok"},
                         {"bbox_2d": [300, model.height + 20, 400, model.height + 60], "label": "below"},
                         {"bbox_2d": [model.width + 5, 10, model.width + 50, 40], "label": "right"}])
    with ScriptedServer([answer]) as server:
        code, result = run_cli(["detect", str(image_path), "--base-url", server.base_url, "--model", "qwen",
                                "--out", str(tmp_path / "d.png")], capsys)
    assert code == 0 and [b["label"] for b in result["boxes"]] == ["ok"]
    assert [r["label"] for r in result["rejected"]] == ["below", "right"]
    assert all(b["bbox"][3] > b["bbox"][1] and b["bbox"][2] > b["bbox"][0] for b in result["boxes"])


def test_detect_with_every_box_outside_is_retried_then_not_found(tmp_path, capsys):
    image_path = make_screen(tmp_path / "screen.png", (1280, 720), {})
    outside = json.dumps([{"bbox_2d": [10, 5000, 50, 5100], "label": "nowhere"}])
    with ScriptedServer([outside]) as server:
        code, result = run_cli(["detect", str(image_path), "--base-url", server.base_url, "--model", "qwen",
                                "--out", str(tmp_path / "d.png")], capsys)
        retried = len(server.requests)
    assert code == 1 and result["boxes"] == [] and "outside" in result["error"] and retried == 2


def test_a_5_mb_answer_is_capped_on_stdout_and_whole_in_the_json_file(tmp_path, capsys):
    image_path = make_screen(tmp_path / "screen.png", (640, 480), {})
    runaway = "blah " * 1_000_000  # 5 MB of nothing usable
    with ScriptedServer([runaway]) as server:
        code = __import__("agent.cli", fromlist=["main"]).main(
            ["ground", str(image_path), "the button", "--base-url", server.base_url, "--model", "qwen",
             "--out", str(tmp_path / "g.png")])
    printed = capsys.readouterr().out
    assert code == 1 and len(printed) < 20 * PRINT_CAP  # was 15 MB: the text once per attempt and once more
    shown = json.loads(printed)
    assert shown["json"] == str(tmp_path / "g.json") and "the whole text is in" in shown["raw"]
    whole = json.loads((tmp_path / "g.json").read_text())
    assert whole["raw"] == runaway and [a["raw"] for a in whole["attempts"]] == [runaway, runaway]


def _ink(image: Image.Image) -> bytes:
    return image.convert("L").point(lambda v: 255 if v < 128 else 0).tobytes()


def test_labels_render_non_latin_letters_not_empty_boxes():
    font = label_font(20)
    assert "DejaVu" in getattr(font, "path", ""), "fonts-dejavu-core is missing: `make system-deps` installs it"
    assert bytes(font.getmask("Ж")) != bytes(font.getmask("Ф"))  # two glyphs, not one missing-glyph box
    screen = Image.new("RGB", (400, 200), (255, 255, 255))
    one, two = (annotate(screen, [([50, 80, 300, 150], label)]) for label in ("Войти", "Выход"))
    assert _ink(one) != _ink(two)


def test_dry_run_labels_use_the_same_font():
    """Same length, different Cyrillic letters: with a font that lacks them both would be six empty boxes."""
    from environments.base import Command
    from tools import COMPUTER_USE

    screen = Image.new("RGB", (640, 240), (255, 255, 255))
    drawn = [draw_command(screen, Command(COMPUTER_USE.validate({"action": "type", "text": text}), None),
                          (0, 0), (1.0, 1.0), (100, 100)) for text in ("Привет", "Пакеты")]
    assert _ink(drawn[0]) != _ink(drawn[1])
