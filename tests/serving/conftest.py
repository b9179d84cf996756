"""Tests against the real vLLM: the session server of tests/vllm_server.py and helpers to talk to it raw."""

from __future__ import annotations

import httpx
import pytest
from PIL import Image

from tests.vllm_server import tiny_vllm_model, vllm_server  # noqa: F401  (fixtures used by this folder)


def screen(width: int, height: int, seed: int = 0) -> Image.Image:
    """A screenshot-like picture: flat panels and a gradient (the content does not change token counts)."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    panel = Image.new("RGB", (width // 3, height // 4), ((seed * 70) % 255, 120, 200))
    image.paste(panel, (width // 10, height // 8))
    return image


@pytest.fixture
def raw(vllm_server):  # noqa: F811
    """An httpx client on the server's root (not /v1), for /tokenize and /detokenize."""
    with httpx.Client(base_url=vllm_server.base_url.removesuffix("/v1"), timeout=120, trust_env=False) as client:
        yield client
