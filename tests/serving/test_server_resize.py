"""The real vLLM resizing original screenshot files itself (`agent.server_resize`): it lands on the client's
model size, and answers map back from that size. The server with lower limits, which must be caught, is
`gui-agent serve`'s in test_serve.py (tests there, next to its other uses)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from agent.geometry import MIN_PIXELS, ModelPoint, Size
from agent.models.openai import OpenAIModel
from agent.models.resolution import tokens_for
from agent.models.structured import tool_call_outputs
from agent.parser import parse_point
from agent.server_resize import ServerResized, for_server
from tasks.screenspot import evaluate
from tasks.screenspot.data import load
from tasks.screenspot.grounding import EVAL_MAX_PIXELS, PREFILL, QuerySettings, _prompt, model_screenshot
from tests.serving.conftest import screen
from tests.serving.test_vllm_requests import image_tokens_seen, tokenized
from tests.vllm_server import TINY_NAME

CASES = [(Size(1280, 720), Size(1288, 728)), (Size(1920, 1080), Size(1932, 1092))]


def _png(size: Size, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    screen(size.width, size.height, seed).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("size, model_size", CASES, ids=["1280x720", "1920x1080"])
def test_an_original_file_reaches_the_model_at_the_clients_model_size(vllm_server, raw, size: Size,
                                                                      model_size: Size) -> None:
    geometry, image = for_server(_png(size), MIN_PIXELS, EVAL_MAX_PIXELS, "auto")
    assert isinstance(image, ServerResized) and image.original == size and geometry.model == model_size
    settings = QuerySettings(min_pixels=MIN_PIXELS)
    prompt = _prompt(image, geometry, "the highlighted panel", settings)
    model = OpenAIModel(vllm_server.base_url, TINY_NAME, max_tokens=32, structured_outputs=tool_call_outputs,
                        client_limits=(MIN_PIXELS, EVAL_MAX_PIXELS))
    # the server's own count of the image tokens of the file it got: the client's model size, not the file's
    assert image_tokens_seen(raw, model, prompt) == tokens_for(model_size)
    assert tokens_for(model_size) != (size.width // 28) * (size.height // 28)  # (the file's own size differs)
    generation = model.generate(prompt)  # the handshake compares the same count with image.size: no mismatch
    assert generation.prompt_tokens == tokenized(raw, model, prompt)  # the request itself saw those tokens
    x, y = parse_point(PREFILL + generation.text)
    assert 0 <= x < model_size.width and 0 <= y < model_size.height  # structured outputs bound it by image.size
    mapped = geometry.to_screen(ModelPoint(x, y))
    assert (mapped.x, mapped.y) == pytest.approx((x * size.width / model_size.width, y * size.height / model_size.height))
    model.close()


def test_screenspot_on_original_files_scores_in_original_pixels(vllm_server, tmp_path: Path) -> None:
    """The whole evaluation, both sizes, sent as files: every answer is mapped from the model size."""
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    records = []
    for i, (size, _) in enumerate(CASES):
        (root / "images" / f"s{i}.png").write_bytes(_png(size, seed=i))
        records.append({"img_filename": f"s{i}.png", "instruction": "the panel", "bbox": [0, 0, 400, 300],
                        "data_type": "icon", "data_source": "test"})
    (root / "screenspot_web_v2.json").write_text(json.dumps(records))
    model_screenshot.cache_clear()
    model = OpenAIModel(vllm_server.base_url, TINY_NAME, max_tokens=32, client_limits=(MIN_PIXELS, EVAL_MAX_PIXELS))
    summary = evaluate(load(root), model, tmp_path / "out", QuerySettings(min_pixels=MIN_PIXELS))
    model.close()
    assert summary["scored"] == 2 and not summary["errors"], summary
    results = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    for record in results:
        size, model_size = next(c for c in CASES if [c[0].width, c[0].height] == record["image_size"])
        assert record["model_size"] == [model_size.width, model_size.height]
        assert Image.open(record["image"]).size == (size.width, size.height)
        if record["model_point"] is not None:
            mx, my = record["model_point"]
            assert record["point"] == pytest.approx([mx * size.width / model_size.width,
                                                     my * size.height / model_size.height], abs=1e-3)
    assert {tuple(r["image_size"]) for r in results} == {(1280, 720), (1920, 1080)}

