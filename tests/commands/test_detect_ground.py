"""detect and ground through the real CLI: a scripted loopback server answers in model space, the
commands map to original pixels and draw; the drawn boxes must sit on the known targets."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from agent import cli
from agent.commands.common import PALETTE
from agent.geometry import MAX_PIXELS, Geometry, ScreenPoint, Size
from agent.models.testing import ScriptedServer
from tests.commands.conftest import make_screen

TARGETS = {"save": (1500, 60, 1700, 120), "search": (300, 500, 900, 560)}


def images_sent(body: dict) -> list[Image.Image]:
    parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    return [Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) for url in urls]


def to_model_box(geometry: Geometry, box) -> list[int]:
    """A box's edges in model pixels, rounded as a model would answer."""
    sx, sy = geometry.model.width / geometry.input.width, geometry.model.height / geometry.input.height
    x1, y1, x2, y2 = box
    return [round(x1 * sx), round(y1 * sy), round(x2 * sx), round(y2 * sy)]


def run_cli(argv: list[str], capsys) -> tuple[int, dict]:
    code = cli.main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


@pytest.mark.parametrize("max_pixels", [MAX_PIXELS, 256 * 28 * 28])
def test_detect_maps_boxes_to_original_pixels_and_draws_them(tmp_path, capsys, max_pixels):
    image_path = make_screen(tmp_path / "screen.png", (1920, 1080), TARGETS)
    geometry = Geometry.for_screenshot(Size(1920, 1080), max_pixels=max_pixels)
    items = [{"bbox_2d": to_model_box(geometry, box), "label": name} for name, box in TARGETS.items()]
    answer = "```json\n" + json.dumps(items) + "\n```"
    out = tmp_path / "annotated.png"
    with ScriptedServer([answer]) as server:
        code, result = run_cli(["detect", str(image_path), "the buttons", "--base-url", server.base_url, "--model",
                                "qwen", "--max-pixels", str(max_pixels), "--out", str(out)], capsys)
        sent = images_sent(server.requests[0])
    assert code == 0
    assert [s.size for s in sent] == [(geometry.model.width, geometry.model.height)]
    assert result["model_size"] == [geometry.model.width, geometry.model.height]
    tolerance = 1920 / geometry.model.width + 1  # one model pixel, plus rounding
    for found, (name, box) in zip(result["boxes"], TARGETS.items(), strict=True):
        assert found["label"] == name
        assert found["bbox"] == pytest.approx(list(box), abs=tolerance)
    annotated = Image.open(out).convert("RGB")
    assert annotated.size == (1920, 1080)
    for index, (x1, y1, x2, y2) in enumerate(TARGETS.values()):
        cy = (y1 + y2) // 2
        assert annotated.getpixel((x1 + 1, cy)) == PALETTE[index]  # left edge
        assert annotated.getpixel((x2 - 2, cy)) == PALETTE[index]  # right edge
        assert annotated.getpixel(((x1 + x2) // 2, cy)) == (90, 90, 90)  # inside untouched
    assert annotated.getpixel((50, 1000)) == (245, 245, 245)  # nothing drawn elsewhere


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 2400), (390, 844)])
def test_ground_box_mode_point_and_box_land_on_the_target(tmp_path, capsys, size):
    w, h = size
    target = (w // 2, h // 3, w // 2 + 120, h // 3 + 50)
    image_path = make_screen(tmp_path / "screen.png", size, {"sign-in": target})
    geometry = Geometry.for_screenshot(Size(w, h))
    answer = json.dumps([{"bbox_2d": to_model_box(geometry, target), "label": "sign in"}])
    out = tmp_path / "ground.png"
    with ScriptedServer([answer]) as server:
        code, result = run_cli(["ground", str(image_path), "the sign-in button", "--base-url", server.base_url,
                                "--model", "qwen", "--out", str(out)], capsys)
        assert "the sign-in button" in json.dumps(server.requests[0]["messages"])
    assert code == 0, result
    x, y = result["point"]
    assert target[0] <= x < target[2] and target[1] <= y < target[3]
    assert result["box"] == pytest.approx(list(target), abs=w / geometry.model.width + 1)
    annotated = Image.open(out).convert("RGB")
    assert annotated.getpixel((target[0] + 1, (target[1] + target[3]) // 2)) == PALETTE[0]


def test_ground_click_mode_uses_the_tool_prompt_with_prefill(tmp_path, capsys):
    target = (1000, 600, 1100, 650)
    image_path = make_screen(tmp_path / "screen.png", (1920, 1080), {"ok": target})
    geometry = Geometry.for_screenshot(Size(1920, 1080))
    centre = geometry.to_model(ScreenPoint(1050, 625))
    answer = f'{round(centre.x)}, {round(centre.y)}]}}}}\n</tool_call>'
    out = tmp_path / "click.png"
    with ScriptedServer([answer]) as server:
        code, result = run_cli(["ground", str(image_path), "the OK button", "--mode", "click", "--base-url",
                                server.base_url, "--model", "qwen", "--out", str(out)], capsys)
        body = server.requests[0]
    assert code == 0, result
    assert body["messages"][-1]["role"] == "assistant" and body["messages"][-1]["content"].endswith('"coordinate": [')
    assert "computer_use" in body["messages"][0]["content"]
    assert f"{geometry.model.width}x{geometry.model.height}" in body["messages"][0]["content"]
    assert result["point"] == pytest.approx([1050, 625], abs=2)
    assert result["box"] is None
    annotated = Image.open(out).convert("RGB")
    assert annotated.getpixel((round(result["point"][0]), round(result["point"][1]))) == PALETTE[0]  # the cross


def test_ground_outside_the_image_is_reported_not_clamped(tmp_path, capsys):
    image_path = make_screen(tmp_path / "screen.png", (1280, 720), {})
    with ScriptedServer(['{"point_2d": [5000, 20]}']) as server:
        code, result = run_cli(["ground", str(image_path), "x", "--base-url", server.base_url, "--model", "qwen",
                                "--out", str(tmp_path / "g.png")], capsys)
    assert code == 1 and "outside the screenshot" in result["error"] and result["point"] is None


def test_detect_unusable_answer_exits_1_with_the_raw_text(tmp_path, capsys):
    image_path = make_screen(tmp_path / "screen.png", (1280, 720), {})
    with ScriptedServer(["I see no buttons."]) as server:
        code, result = run_cli(["detect", str(image_path), "--base-url", server.base_url, "--model", "qwen",
                                "--out", str(tmp_path / "d.png")], capsys)
    assert code == 1 and result["boxes"] == [] and result["raw"] == "I see no buttons." and result["error"]
    assert (tmp_path / "d.png").is_file()


def test_unreadable_image_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert cli.main(["detect", str(bad), "--base-url", "http://127.0.0.1:9/v1", "--model", "q"]) == 2
    assert cli.main(["ground", str(tmp_path / "missing.png"), "x", "--base-url", "http://127.0.0.1:9/v1",
                     "--model", "q"]) == 2


# -- plumbing with the tiny random model ------------------------------------------------------------
def test_detect_and_ground_run_the_tiny_model(tmp_path, capsys, tiny_model_dir):
    image_path = make_screen(tmp_path / "screen.png", (640, 360), {"a": (100, 100, 200, 150)})
    common = ["--model", str(tiny_model_dir), "--max-new-tokens", "8"]
    code, detected = run_cli(["detect", str(image_path), *common, "--out", str(tmp_path / "d.png")], capsys)
    assert code in (0, 1) and isinstance(detected["raw"], str)
    assert detected["usage"]["image_tokens"] == Geometry.for_screenshot(Size(640, 360)).image_tokens
    code, grounded = run_cli(["ground", str(image_path), "the box", *common, "--mode", "click",
                              "--out", str(tmp_path / "g.png")], capsys)
    assert code in (0, 1) and grounded["usage"]["completion_tokens"] <= 8
    assert (tmp_path / "d.png").is_file() and (tmp_path / "g.png").is_file()


def test_an_unusable_answer_is_retried_with_the_reason(tmp_path, capsys):
    target = (400, 300, 500, 340)
    image_path = make_screen(tmp_path / "screen.png", (1280, 720), {"ok": target})
    geometry = Geometry.for_screenshot(Size(1280, 720))
    answers = ["It is the grey button.", json.dumps([{"bbox_2d": to_model_box(geometry, target), "label": "ok"}])]
    with ScriptedServer(answers) as server:
        code, result = run_cli(["ground", str(image_path), "the OK button", "--base-url", server.base_url, "--model",
                                "qwen", "--out", str(tmp_path / "g.png")], capsys)
        first, second = (json.dumps(r["messages"]) for r in server.requests)
    assert code == 0 and result["point"] == pytest.approx([450, 320], abs=2)
    assert [a["error"] is None for a in result["attempts"]] == [False, True]
    assert "could not be used" not in first and "could not be used: no box found" in second  # box mode re-asks for a box
    with ScriptedServer(["no boxes"]) as server:
        code, result = run_cli(["detect", str(image_path), "--retries", "0", "--base-url", server.base_url,
                                "--model", "qwen", "--out", str(tmp_path / "d.png")], capsys)
        assert len(server.requests) == 1 and code == 1 and len(result["attempts"]) == 1


def test_ground_and_detect_read_qwen2vl_box_tokens_as_boxes(tmp_path, capsys):
    image_path = make_screen(tmp_path / "screen.png", (1920, 1080), TARGETS)
    geometry = Geometry.for_screenshot(Size(1920, 1080))
    tokens = "".join(
        f"<|object_ref_start|>{name}<|object_ref_end|><|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"
        for name, (x1, y1, x2, y2) in ((n, to_model_box(geometry, b)) for n, b in TARGETS.items()))
    tolerance = 1920 / geometry.model.width + 1
    with ScriptedServer([tokens]) as server:
        code, found = run_cli(["ground", str(image_path), "save", "--base-url", server.base_url, "--model", "qwen",
                               "--out", str(tmp_path / "g.png")], capsys)
        assert code == 0 and found["label"] == "save"
        assert found["box"] == pytest.approx(list(TARGETS["save"]), abs=tolerance)
        assert found["point"] == pytest.approx([1600, 90], abs=tolerance)  # the centre, not the corner (1500, 60)
        code, detected = run_cli(["detect", str(image_path), "--base-url", server.base_url, "--model", "qwen",
                                  "--out", str(tmp_path / "d.png")], capsys)
        assert code == 0 and [b["label"] for b in detected["boxes"]] == list(TARGETS)
        for box, target in zip(detected["boxes"], TARGETS.values(), strict=True):
            assert box["bbox"] == pytest.approx(list(target), abs=tolerance)


def test_ground_refuses_a_malformed_box_token_instead_of_clicking_its_corner(tmp_path, capsys):
    image_path = make_screen(tmp_path / "screen.png", (1920, 1080), TARGETS)
    with ScriptedServer(["<|box_start|>(100,40),(200,80),(300,90)<|box_end|>"]) as server:
        code, found = run_cli(["ground", str(image_path), "save", "--base-url", server.base_url, "--model", "qwen",
                               "--retries", "0", "--out", str(tmp_path / "g.png")], capsys)
    assert code != 0
    assert found.get("point") is None and "exactly two points" in found["error"]


@pytest.mark.parametrize(("reason", "cut"), [("stop", False), ("length", True)])
def test_ground_reads_a_trailing_pair_only_when_the_model_stopped_by_itself(tmp_path, capsys, reason, cut):
    image_path = make_screen(tmp_path / "screen.png", (1920, 1080), TARGETS)
    with ScriptedServer([("The save button is at (1000,70)", reason)]) as server:
        code, found = run_cli(["ground", str(image_path), "save", "--base-url", server.base_url, "--model", "qwen",
                               "--retries", "0", "--out", str(tmp_path / "g.png")], capsys)
    if cut:  # at the token limit "(1000,70)" may be the first corner of a box the model never finished
        assert code != 0 and found.get("point") is None and "cut off" in found["error"]
    else:
        assert code == 0 and found["point_model"] == [1000.0, 70.0]
