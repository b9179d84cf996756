"""ground and detect with --resize: the original file for the server to resize, or a JPEG resized here."""

from __future__ import annotations

import base64
import json

import pytest
from PIL import Image

from agent import cli
from agent.geometry import Geometry, Size
from agent.models.testing import ScriptedServer
from tests.commands.conftest import make_screen
from tests.commands.test_detect_ground import images_sent, to_model_box


def _urls(body: dict) -> list[str]:
    parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
    return [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]


@pytest.mark.parametrize("command", ["ground", "detect"])
@pytest.mark.parametrize("resize", ["auto", "client"])
def test_the_file_goes_as_it_is_or_resized_here_and_boxes_map_from_the_model_size(tmp_path, capsys, command, resize):
    target = (700, 300, 820, 350)
    path = make_screen(tmp_path / "screen.png", (1280, 720), {"ok": target})
    geometry = Geometry.for_screenshot(Size(1280, 720))
    assert geometry.model == Size(1288, 728)
    answer = json.dumps([{"bbox_2d": to_model_box(geometry, target), "label": "ok"}])
    with ScriptedServer([answer]) as server:
        code = cli.main([command, str(path), "the OK button", "--base-url", server.base_url, "--model", "qwen",
                         "--resize", resize, "--out", str(tmp_path / "out.png")])
        body = server.requests[0]
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    (url,) = _urls(body)
    if resize == "auto":  # the client's limits leave 1280x720 at 1288x728: the server may resize the file
        assert base64.b64decode(url.split(",", 1)[1]) == path.read_bytes()
    else:
        assert url.startswith("data:image/jpeg;base64,") and images_sent(body)[0].size == (1288, 728)
    assert result["model_size"] == [1288, 728]
    box = result["box"] if command == "ground" else result["boxes"][0]["bbox"]
    assert box == pytest.approx(list(target), abs=1280 / 1288 + 1)
    assert Image.open(tmp_path / "out.png").size == (1280, 720)


def test_ground_with_limits_that_shrink_the_screenshot_resizes_here(tmp_path, capsys):
    """1920x1080 under the default --max-pixels becomes 1316x728: only a server with that very limit agrees,
    so auto resizes here."""
    path = make_screen(tmp_path / "screen.png", (1920, 1080), {"ok": (100, 100, 200, 150)})
    with ScriptedServer(['{"bbox_2d": [60, 60, 130, 100], "label": "ok"}']) as server:
        code = cli.main(["ground", str(path), "ok", "--base-url", server.base_url, "--model", "qwen",
                         "--out", str(tmp_path / "out.png")])
        (url,) = _urls(server.requests[0])
    assert code == 0 and json.loads(capsys.readouterr().out)["model_size"] == [1316, 728]
    assert url.startswith("data:image/jpeg;base64,") and images_sent(server.requests[0])[0].size == (1316, 728)
