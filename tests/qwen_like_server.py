"""`ScriptedServer` that counts tokens like a Qwen2.5-VL server: for handshake tests against servers vLLM is not.

Each image in a request is decoded and resized with Qwen's rule under the server's own limits (or the
request's ``mm_processor_kwargs`` where ``per_request``), and becomes ``<|vision_start|>``, one
``<|image_pad|>`` per 28x28 block, ``<|vision_end|>`` in the prompt's ids; each word of text one id. The
count is reported as ``usage.prompt_tokens`` (unless ``usage=False``); the ids themselves come back as
``prompt_token_ids`` when asked with ``return_token_ids`` and ``token_ids=True``. ``strict``: answers unknown
request fields with HTTP 400, as OpenAI's own API does; ``context``: prompts longer than that, too.
"""

from __future__ import annotations

import base64
import io
import zlib
from typing import Any

from PIL import Image

from agent.geometry import MAX_PIXELS, MIN_PIXELS, smart_resize
from agent.models.resolution import QWEN_MARKERS
from agent.models.testing import ScriptedServer

KNOWN_FIELDS = {"model", "messages", "temperature", "max_tokens", "structured_outputs", "continue_final_message",
                "add_generation_prompt"}


class QwenLikeServer(ScriptedServer):
    def __init__(self, answers, *, min_pixels: int = MIN_PIXELS, max_pixels: int = 12_845_056, token_ids: bool = False,
                 usage: bool = True, strict: bool = False, per_request: bool = False, context: int | None = None,
                 expanded: bool = True, **kwargs: Any) -> None:
        super().__init__(answers, **kwargs)
        self.limits = {"min_pixels": min_pixels, "max_pixels": max_pixels}
        self.token_ids, self.usage, self.strict, self.per_request = token_ids, usage, strict, per_request
        self.context = context  # the longest prompt it takes, in tokens (vLLM's --max-model-len)
        self.expanded = expanded  # False: the ids it returns keep one <|image_pad|> per image (before processing)
        self.refused: list[dict[str, Any]] = []  # requests answered with HTTP 400

    def _answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        unknown = set(body) - KNOWN_FIELDS - ({"mm_processor_kwargs"} if self.per_request else set())
        if "return_token_ids" in unknown and self.token_ids:
            unknown.discard("return_token_ids")
        if unknown and (self.strict or "mm_processor_kwargs" in unknown):
            self.refused.append(body)
            return 400, {"error": {"message": f"Unrecognized request argument supplied: {', '.join(sorted(unknown))}"}}
        status, reply = super()._answer(body)
        if status != 200:
            return status, reply
        limits = self.limits | (body.get("mm_processor_kwargs") or {}) if self.per_request else self.limits
        ids = prompt_ids(body["messages"], limits)
        if self.context is not None and len(ids) > self.context:
            self.requests.pop()  # refused, like the 400s above
            self.refused.append(body)
            return 400, {"error": {"message": f"This model's maximum context length is {self.context} tokens. However, "
                                              f"you requested {len(ids)} tokens in the messages."}}
        reply["usage"] = {"prompt_tokens": len(ids), "completion_tokens": 1} if self.usage else {}
        if self.token_ids and body.get("return_token_ids"):
            start, pad, _ = QWEN_MARKERS
            reply["prompt_token_ids"] = ids if self.expanded else [
                t for i, t in enumerate(ids) if t != pad or ids[i - 1] == start]
        return status, reply


def prompt_ids(messages: list[dict[str, Any]], limits: dict[str, int]) -> list[int]:
    start, pad, end = QWEN_MARKERS
    ids: list[int] = []
    for message in messages:
        ids.append(1)  # <|im_start|>role
        parts = message["content"] if isinstance(message["content"], list) else [{"type": "text", "text": message["content"]}]
        for part in parts:
            if part.get("type") == "image_url":
                data = part["image_url"]["url"].split(",", 1)[1]
                width, height = Image.open(io.BytesIO(base64.b64decode(data))).size
                h, w = smart_resize(height, width, min_pixels=limits.get("min_pixels", MIN_PIXELS),
                                    max_pixels=limits.get("max_pixels", MAX_PIXELS))
                ids += [start, *[pad] * ((w // 28) * (h // 28)), end]
            else:
                ids += [1000 + zlib.crc32(word.encode()) % 50_000 for word in part.get("text", "").split()]
        ids.append(2)  # <|im_end|>
    return ids
