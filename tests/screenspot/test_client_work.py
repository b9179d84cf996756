"""The client's work per ScreenSpot sample: what is decoded, resized and encoded, and how often."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from agent.geometry import Size
from agent.imaging import ModelImageCache, data_uri, decode, encode_once, from_file, to_model_image
from agent.models.openai import OpenAIModel
from agent.models.testing import ScriptedServer
from tasks.screenspot import evaluate
from tasks.screenspot.data import load
from tasks.screenspot.grounding import EVAL_MAX_PIXELS, QuerySettings, model_screenshot

ANSWER = "30, 20]}}\n</tool_call>"


def _screen(size: tuple[int, int], seed: int = 0) -> Image.Image:
    image = Image.new("RGB", size, (235, 235, 235))
    draw = ImageDraw.Draw(image)
    for j in range(12):
        x, y = (j * 97 + seed * 13) % (size[0] - 60), (j * 53 + seed * 7) % (size[1] - 30)
        draw.rectangle([x, y, x + 50, y + 20], fill=((j * 40) % 255, 90, (seed * 60) % 255))
        draw.text((x + 3, y + 4), f"b{j}", fill=(255, 255, 255))
    return image


def _dataset(root: Path, files: dict[str, tuple[Image.Image, str]], questions: int = 1) -> Path:
    (root / "images").mkdir(parents=True)
    records = []
    for name, (image, fmt) in files.items():
        image.save(root / "images" / name, fmt)
        records += [{"img_filename": name, "instruction": f"q{i} on {name}", "bbox": [0, 0, 100, 100],
                     "data_type": "text", "data_source": "test"} for i in range(questions)]
    (root / "screenspot_web_v2.json").write_text(json.dumps(records))
    return root


def _sent_images(server: ScriptedServer) -> list[str]:
    return [part["image_url"]["url"] for body in server.requests for message in body["messages"]
            if isinstance(message["content"], list) for part in message["content"] if part["type"] == "image_url"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_screenshot_at_model_size_is_sent_as_its_own_file(tmp_path: Path, fmt: str) -> None:
    """1288x728 is already a model size: the server gets the file's bytes, not a re-encoding."""
    root = _dataset(tmp_path / "data", {f"s.{fmt.lower()}": (_screen((1288, 728)), fmt)})
    with ScriptedServer([ANSWER]) as server:
        model = OpenAIModel(server.base_url, "qwen")
        summary = evaluate(load(root), model, tmp_path / "out", QuerySettings(min_pixels=3136))
        model.close()
    assert summary["scored"] == 1 and not summary["errors"]
    (uri,) = _sent_images(server)
    header, payload = uri.split(",", 1)
    assert header == f"data:image/{fmt.lower()};base64"
    assert base64.b64decode(payload) == (root / "images" / f"s.{fmt.lower()}").read_bytes()


def test_a_file_passed_through_is_not_decoded_but_still_has_its_pixels(tmp_path: Path) -> None:
    screen = _screen((1288, 728))
    buf = io.BytesIO()
    screen.save(buf, "PNG")
    image = from_file(buf.getvalue())
    assert image.size == (1288, 728)
    assert data_uri(image, "jpeg").startswith("data:image/png;base64,")  # its own bytes, whatever was asked
    assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(screen))  # decoded on demand


def test_a_screenshot_asked_about_several_times_is_decoded_resized_and_encoded_once(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data", {"s.png": (_screen((1280, 720)), "PNG")}, questions=3)
    model_screenshot.cache_clear()
    with ScriptedServer([ANSWER]) as server:
        model = OpenAIModel(server.base_url, "qwen")
        summary = evaluate(load(root), model, tmp_path / "out", QuerySettings(min_pixels=3136, resize="client"))
        model.close()
    assert summary["scored"] == 3
    assert model_screenshot.cache_info().misses == 1 and model_screenshot.cache_info().hits == 2
    uris = _sent_images(server)
    assert len(uris) == 3 and len(set(uris)) == 1 and uris[0].startswith("data:image/jpeg;base64,")
    _, image = model_screenshot(root / "images" / "s.png", 3136, EVAL_MAX_PIXELS, "jpeg", "client")
    assert image.size == (1288, 728)
    assert data_uri(image) is data_uri(image)  # the same string object: encoded once, not per request


def test_the_resized_screenshot_has_the_pixels_of_the_plain_path(tmp_path: Path) -> None:
    """libspng decoding into torch's resize gives exactly what Pillow's decoding into it gives."""
    path = tmp_path / "s.png"
    _screen((1280, 720), seed=3).save(path)
    decoded = decode(path.read_bytes())
    assert isinstance(decoded, np.ndarray), "pyspng is a dependency: RGB PNGs decode through it"
    with Image.open(path) as pil:
        reference = to_model_image(pil.convert("RGB"), Size(1288, 728))
    assert np.array_equal(np.asarray(to_model_image(decoded, Size(1288, 728))), np.asarray(reference))


def test_palette_and_alpha_pngs_decode_through_pillow(tmp_path: Path) -> None:
    for mode in ("P", "RGBA", "L"):
        buf = io.BytesIO()
        _screen((200, 100)).convert(mode).save(buf, "PNG")
        decoded = decode(buf.getvalue())
        assert isinstance(decoded, Image.Image) and decoded.mode == "RGB" and decoded.size == (200, 100)


def test_an_image_patched_in_place_forgets_its_old_encoding() -> None:
    from environments.base import Damage

    screen = _screen((640, 360))
    cache = ModelImageCache()
    first = encode_once(cache.model_image(screen, Size(644, 364), frame=1))
    old = data_uri(first)
    changed = screen.copy()
    ImageDraw.Draw(changed).rectangle([10, 10, 60, 40], fill=(0, 0, 0))
    del first
    second = cache.model_image(changed, Size(644, 364), frame=2, damage=Damage(since=1, boxes=((10, 10, 61, 41),)))
    assert cache.last == "patch"
    assert data_uri(second) != old
