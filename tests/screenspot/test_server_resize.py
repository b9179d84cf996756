"""Screenshots the server resizes itself (`agent.server_resize`): when, what is sent, and that nothing decodes.

The loopback `ScriptedServer` stands in for the model server here (it records every request); that the
real vLLM lands on the client's model size is tests/serving/test_server_resize.py.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile

from agent.geometry import MAX_PIXELS, Size, smart_resize
from agent.imaging import data_uri
from agent.models.openai import OpenAIModel
from agent.models.testing import ScriptedServer
from agent.server_resize import ServerResized, for_server, server_lands_on
from tasks.screenspot import evaluate
from tasks.screenspot.data import load
from tasks.screenspot.grounding import EVAL_MAX_PIXELS, QuerySettings, model_screenshot

ANSWER = "30, 20]}}\n</tool_call>"

try:  # transformers' own rule, as the servers run it (the PIL-backend module needs no torchvision)
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as hf_smart_resize
except ImportError:  # transformers before the backend split
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as hf_smart_resize


def _screen(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    image = Image.new("RGB", size, (235, 235, 235))
    draw = ImageDraw.Draw(image)
    for j in range(12):
        x, y = (j * 97) % (size[0] - 60), (j * 53) % (size[1] - 30)
        draw.rectangle([x, y, x + 50, y + 20], fill=((j * 40) % 255, 90, 120))
    return image.convert(mode)


def _file(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def _dataset(root: Path, name: str, data: bytes) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "images" / name).write_bytes(data)
    records = [{"img_filename": name, "instruction": "the button", "bbox": [0, 0, 100, 100], "data_type": "text",
                "data_source": "test"}]
    (root / "screenspot_web_v2.json").write_text(json.dumps(records))
    return root


def _sent(server: ScriptedServer) -> list[str]:
    return [part["image_url"]["url"] for body in server.requests for message in body["messages"]
            if isinstance(message["content"], list) for part in message["content"] if part["type"] == "image_url"]


@pytest.fixture
def nothing_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any decode of pixels in this process fails the test: Pillow's and libspng's."""
    import pyspng

    def refuse(*args, **kwargs):
        raise AssertionError("a screenshot was decoded on the client")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(pyspng, "load", refuse)


@pytest.mark.parametrize("size, model_size", [((1280, 720), (1288, 728)), ((1920, 1080), (1932, 1092))])
def test_an_original_file_is_sent_undecoded_and_the_answer_maps_from_the_model_size(
        tmp_path: Path, nothing_decodes: None, size: tuple[int, int], model_size: tuple[int, int]) -> None:
    data = _file(_screen(size))
    root = _dataset(tmp_path / "data", "s.png", data)
    model_screenshot.cache_clear()
    with ScriptedServer([ANSWER]) as server:
        model = OpenAIModel(server.base_url, "qwen")
        summary = evaluate(load(root), model, tmp_path / "out", QuerySettings(min_pixels=3136))
        model.close()
    assert summary["scored"] == 1 and not summary["errors"] and summary["settings"]["resize"] == "auto"
    (uri,) = _sent(server)
    header, payload = uri.split(",", 1)
    assert header == "data:image/png;base64" and base64.b64decode(payload) == data  # the file, byte for byte
    system = server.requests[0]["messages"][0]["content"]
    assert f"resolution is {model_size[0]}x{model_size[1]}" in system  # the size the server resizes to
    (record,) = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert record["model_size"] == list(model_size) and record["image_size"] == list(size)
    assert record["model_point"] == [30, 20]
    assert record["point"] == [round(30 * size[0] / model_size[0], 3), round(20 * size[1] / model_size[1], 3)]


def test_the_prompt_image_reports_the_model_size_the_handshake_checks() -> None:
    data = _file(_screen((1280, 720)))
    geometry, image = for_server(data, 3136, EVAL_MAX_PIXELS, "auto")
    assert isinstance(image, ServerResized) and not isinstance(image, Image.Image)  # no pixels to decode at all
    assert image.size == (1288, 728) == (geometry.model.width, geometry.model.height)
    assert image.original == Size(1280, 720) == geometry.screenshot
    assert data_uri(image, "jpeg") == "data:image/png;base64," + base64.b64encode(data).decode()


def test_client_limits_that_bind_keep_the_resize_on_the_client(tmp_path: Path) -> None:
    """1920x1080 under --max-pixels 1003520 becomes 1316x728: only a server with that very limit agrees."""
    data = _file(_screen((1920, 1080)))
    geometry, image = for_server(data, 3136, MAX_PIXELS, "auto")
    assert geometry.model == Size(1316, 728) and image is None  # resized here
    _, image = for_server(_file(_screen((1280, 720))), 3136, MAX_PIXELS, "client")
    assert image is None
    with pytest.raises(ValueError, match="resize must be one of"):
        for_server(data, 3136, MAX_PIXELS, "server")


def test_resize_client_sends_a_jpeg_at_model_size(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data", "s.png", _file(_screen((1280, 720))))
    model_screenshot.cache_clear()
    with ScriptedServer([ANSWER]) as server:
        model = OpenAIModel(server.base_url, "qwen")
        evaluate(load(root), model, tmp_path / "out", QuerySettings(min_pixels=3136, resize="client"))
        model.close()
    (uri,) = _sent(server)
    assert uri.startswith("data:image/jpeg;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size == (1288, 728)


def test_files_whose_pixels_a_server_would_read_otherwise_are_resized_here() -> None:
    """Transparency (vLLM composites it on white), EXIF rotation (vLLM applies it), odd modes: decoded here."""
    screen = _screen((1280, 720))
    rotated = Image.Exif()
    rotated[0x0112] = 6
    upright = Image.Exif()
    upright[0x0112] = 1
    png_exif = _file(screen, "PNG", exif=upright.tobytes())
    cases = {
        "rgba": _file(_screen((1280, 720), "RGBA")),
        "rgb with tRNS": _file(screen, "PNG", transparency=(235, 235, 235)),
        "palette": _file(_screen((1280, 720), "P")),
        "rotated jpeg": _file(screen, "JPEG", exif=rotated.tobytes()),
        "png with exif": png_exif,  # may follow the pixels: not read without decoding
        "16-bit grey": _file(Image.fromarray(np.full((720, 1280), 300, dtype=np.uint16))),
    }
    for name, data in cases.items():
        assert for_server(data, 3136, EVAL_MAX_PIXELS, "auto")[1] is None, name
    for fmt, params in (("JPEG", {"exif": upright.tobytes()}), ("JPEG", {}), ("WEBP", {"lossless": True}),
                        ("PNG", {})):
        sent = for_server(_file(screen, fmt, **params), 3136, EVAL_MAX_PIXELS, "auto")[1]
        assert isinstance(sent, ServerResized) and sent.format == fmt, fmt
    grey = for_server(_file(screen.convert("L")), 3136, EVAL_MAX_PIXELS, "auto")[1]
    assert isinstance(grey, ServerResized)


def test_auto_sends_the_original_exactly_when_every_server_agrees_as_with_a_client_resize() -> None:
    """The rule's claim, checked with transformers' own smart_resize as the server: for every screenshot size
    auto sends as it is and every server limit, the server lands on our size for the original iff it leaves
    our resized image as it is."""
    sizes = [Size(w, h) for w in (300, 640, 800, 1024, 1280, 1366, 1440, 1920, 2560, 3840)
             for h in (200, 480, 720, 768, 900, 1080, 1600, 2160)]
    server_limits = [(3136, m) for m in (200_704, 602_112, 937_664, 1_003_520, 2_109_744, 12_845_056)] + \
                    [(lo, 12_845_056) for lo in (200_704, 937_664, 1_003_520, 3_211_264)]
    checked = 0
    for client in ((3136, MAX_PIXELS), (3136, EVAL_MAX_PIXELS), (1_003_520, EVAL_MAX_PIXELS)):
        for size in sizes:
            h, w = smart_resize(size.height, size.width, min_pixels=client[0], max_pixels=client[1])
            if not server_lands_on(size, *client):
                continue
            for low, high in server_limits:
                original = hf_smart_resize(size.height, size.width, min_pixels=low, max_pixels=high)
                resized = hf_smart_resize(h, w, min_pixels=low, max_pixels=high)
                assert (original == (h, w)) == (resized == (h, w)), (client, size, low, high)
                checked += 1
    assert checked > 500
    assert not server_lands_on(Size(1920, 1080), 3136, MAX_PIXELS)  # shrunk by the client's max_pixels
    assert not server_lands_on(Size(60, 40), 3136, EVAL_MAX_PIXELS)  # grown by the client's min_pixels
    assert not server_lands_on(Size(1280, 20), 3136, EVAL_MAX_PIXELS)  # a side under 28 px
