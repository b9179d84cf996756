"""Requests against the real vLLM with the checkpoint's default limits: image tokens, prefill, image counts.

Image tokens are measured twice and independently: by `OpenAIModel`'s handshake (the prompt's token ids
vLLM returns with ``return_token_ids``, its placeholders expanded) and here through vLLM's /tokenize (same
messages with and without the images).
"""

from __future__ import annotations

import re
from functools import partial

import pytest

from agent.errors import ConfigError
from agent.geometry import MAX_PIXELS, MIN_PIXELS, Geometry, Size
from agent.imaging import to_model_image
from agent.models.openai import OpenAIModel
from agent.models.resolution import MARKERS_PER_IMAGE
from agent.models.structured import tool_call_outputs
from agent.parser import parse_point
from agent.prompt import Prompt, system_prompt
from tasks.screenspot.grounding import EVAL_MAX_PIXELS, PREFILL
from tests.serving.conftest import screen
from tests.vllm_server import TINY_NAME
from tools import COMPUTER_USE

SIZES = [Size(1280, 720), Size(1920, 1080), Size(1080, 2400)]


def tokenized(raw, model: OpenAIModel, prompt: Prompt, *, images: bool = True) -> int:
    """vLLM's own count of the prompt's tokens (/tokenize renders the chat template and the images)."""
    payload = model._payload(prompt)
    messages = payload["messages"]
    if not images:
        messages = [m | {"content": [c for c in m["content"] if c["type"] != "image_url"]}
                    if isinstance(m["content"], list) else m for m in messages]
    body = {"model": TINY_NAME, "messages": messages}
    body |= {k: payload[k] for k in ("continue_final_message", "add_generation_prompt") if k in payload}
    response = raw.post("/tokenize", json=body)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def image_tokens_seen(raw, model: OpenAIModel, prompt: Prompt) -> int:
    return tokenized(raw, model, prompt) - tokenized(raw, model, prompt, images=False) - MARKERS_PER_IMAGE * len(prompt.images)


def check_geometry(vllm_server, raw, shot, geometry: Geometry, max_pixels: int) -> None:
    image = to_model_image(shot, geometry.model)
    model = OpenAIModel(vllm_server.base_url, TINY_NAME, max_tokens=4, client_limits=(MIN_PIXELS, max_pixels))
    prompt = Prompt(system_prompt(COMPUTER_USE, geometry.model), "Open the settings.", (image,),
                    meta={"model_size": [geometry.model.width, geometry.model.height]})
    generation = model.generate(prompt)
    assert generation.image_tokens == geometry.image_tokens == image_tokens_seen(raw, model, prompt)
    assert model.handshake["status"] == "match" and model.handshake["method"] == "token_ids"
    assert model.handshake["extra_requests"] == 0  # read from the request's own token ids
    again = model.generate(prompt)  # checked again, for free
    assert again.image_tokens == geometry.image_tokens and model.handshake["extra_requests"] == 0


@pytest.mark.parametrize("max_pixels", [MAX_PIXELS, EVAL_MAX_PIXELS], ids=["client-default", "client-eval"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s.width}x{s.height}")
def test_image_tokens_equal_the_client_geometry(vllm_server, raw, size: Size, max_pixels: int) -> None:
    geometry = Geometry.for_screenshot(size, max_pixels=max_pixels)
    check_geometry(vllm_server, raw, screen(size.width, size.height), geometry, max_pixels)


@pytest.mark.parametrize("max_pixels", [MAX_PIXELS, EVAL_MAX_PIXELS], ids=["client-default", "client-eval"])
def test_image_tokens_of_a_hidpi_browser_screenshot(vllm_server, raw, max_pixels: int) -> None:
    from environments.browser import BrowserEnvironment, find_chromium
    from environments.webapps import WebAppServer

    if find_chromium() is None:
        pytest.fail("Chromium is missing: install Debian's chromium (`make system-deps`)", pytrace=False)
    with WebAppServer() as app, BrowserEnvironment(app.url("demo/"), Size(1280, 720), 2.0) as env:
        observation = env.reset()
    assert observation.screenshot_size == Size(2560, 1440) and observation.input_size == Size(1280, 720)
    geometry = Geometry.for_screenshot(observation.screenshot_size, observation.input_size, max_pixels=max_pixels)
    check_geometry(vllm_server, raw, observation.screenshot, geometry, max_pixels)


def test_screenspot_prefill_continues_the_assistant_turn(vllm_server, raw) -> None:
    geometry = Geometry.for_screenshot(Size(1280, 720))
    image = to_model_image(screen(1280, 720), geometry.model)
    prompt = Prompt(system_prompt(COMPUTER_USE, geometry.model), "the sign-in button", (image,), PREFILL,
                    {"model_size": [geometry.model.width, geometry.model.height]}, image_first=True)
    model = OpenAIModel(vllm_server.base_url, TINY_NAME, max_tokens=32, structured_outputs=tool_call_outputs)
    # what the server renders: the prompt stops inside the assistant turn, right after the prefill
    payload = model._payload(prompt)
    body = {"model": TINY_NAME, "messages": payload["messages"], "continue_final_message": True,
            "add_generation_prompt": False}
    tokens = raw.post("/tokenize", json=body).json()["tokens"]
    tail = raw.post("/detokenize", json={"model": TINY_NAME, "tokens": tokens[-40:]}).json()["prompt"]
    assert tail.endswith("<|im_start|>assistant\n" + PREFILL), tail
    # the answer continues it: only the coordinate's rest, which completes a click inside the model image
    text = model.generate(prompt).text
    assert not text.startswith("<tool_call>")
    assert re.fullmatch(r"\d+, \d+\]\}\}\n</tool_call>\n?", text), text
    x, y = parse_point(PREFILL + text)
    assert 0 <= x < geometry.model.width and 0 <= y < geometry.model.height


def test_history_images_within_and_over_the_server_limit(vllm_server) -> None:
    from agent.loop import Agent, AgentConfig
    from environments.canvas import CanvasEnvironment

    def model() -> OpenAIModel:
        clicks = partial(tool_call_outputs, actions=("click",))  # no terminate: the episode must reach step 3
        return OpenAIModel(vllm_server.base_url, TINY_NAME, max_tokens=64, structured_outputs=clicks)

    within = Agent(model(), CanvasEnvironment(Size(640, 480)), AgentConfig(max_steps=3, history_images=2)).run("Click")
    assert within.steps == 3 and within.outcome == "step_limit", within
    with pytest.raises(ConfigError) as exc:
        Agent(model(), CanvasEnvironment(Size(640, 480)), AgentConfig(max_steps=4, history_images=3)).run("Click")
    message = str(exc.value)
    assert "At most 2 image(s)" in message and "--limit-mm-per-prompt" in message and "--history-images" in message


def test_every_request_is_checked_for_no_extra_request(vllm_server) -> None:
    """ScreenSpot's mixed phone/desktop/web sizes, one model instance: each request's own token ids carry
    its image tokens (vLLM expands each image's placeholder), so no size needs a request of its own."""
    model = OpenAIModel(vllm_server.base_url, TINY_NAME, max_tokens=1, client_limits=(MIN_PIXELS, EVAL_MAX_PIXELS))
    for i, shot in enumerate([(1280, 720), (1080, 2400), (1920, 1080), (750, 1334), (640, 480)]):
        geometry = Geometry.for_screenshot(Size(*shot), max_pixels=EVAL_MAX_PIXELS)
        image = to_model_image(screen(*shot, seed=i), geometry.model)
        generation = model.generate(Prompt("You are a GUI agent.", f"click button {i}", (image,)))
        assert generation.image_tokens == geometry.image_tokens, shot
    assert model.handshake["method"] == "token_ids" and model.handshake["status"] == "match"
    assert model.handshake["extra_requests"] == 0 and "refused_requests" not in model.handshake


def test_the_usage_probe_agrees_with_real_vllm(vllm_server) -> None:
    """The path for servers without token ids, against vLLM's real resize: one probe at the client's
    largest size (1,003,520 pixels), kept by this server, covers the larger images that follow."""
    model = OpenAIModel(vllm_server.base_url, TINY_NAME, max_tokens=1, client_limits=(MIN_PIXELS, MAX_PIXELS))
    model._check.token_ids = False  # as a server that returns none; everything else is the real exchange
    sizes = [Size(952, 532), Size(1288, 728), Size(672, 1484)]
    for i, size in enumerate(sizes):
        generation = model.generate(Prompt("You are a GUI agent.", f"click {i}", (to_model_image(screen(1280, 720, i), size),)))
        assert generation.image_tokens == size.width // 28 * (size.height // 28)
    assert model.handshake["method"] == "probe" and model.handshake["status"] == "match"
    assert model.handshake["probe"][0] * model.handshake["probe"][1] == MAX_PIXELS
    assert model.handshake["extra_requests"] == 1
