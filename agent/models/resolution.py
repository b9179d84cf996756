"""At which size does a server really feed our screenshot to the model? Read from its token counts.

Qwen2.5-VL turns a W x H image into (W/28)(H/28) tokens between ``<|vision_start|>`` and ``<|vision_end|>``.
A server's ``usage.prompt_tokens`` for a prompt, minus the same prompt without its images, minus those two
markers per image, is therefore the number of image tokens the model saw; if it differs from what the
client's size implies, the server resized the image again and the model answers in a space the prompt
never named. `OpenAIModel` runs this check on first contact (the handshake); these are its pure parts.
"""

from __future__ import annotations

import json

from agent.errors import ConfigError
from agent.geometry import FACTOR, Size, smart_resize

MARKERS_PER_IMAGE = 2  # <|vision_start|> and <|vision_end|>; the placeholder pad itself becomes the image tokens


class ResolutionMismatch(ConfigError):
    """The server resizes images with limits other than the client's: answers would be in the wrong space."""


def tokens_for(size: Size) -> int:
    """Image tokens of an image already at a 28-multiple size: one per 28x28 block."""
    return (size.width // FACTOR) * (size.height // FACTOR)


def measured_image_tokens(prompt_tokens: int, text_only_tokens: int, images: int) -> int:
    return prompt_tokens - text_only_tokens - MARKERS_PER_IMAGE * images


def server_size(sent: Size, tokens: int) -> Size | None:
    """The size Qwen's resize gives ``sent`` under the server limit that yields ``tokens``, if one does."""
    area = tokens * FACTOR * FACTOR
    for limit in range(max(area - FACTOR * (sent.width + sent.height), FACTOR * FACTOR), area + FACTOR * (sent.width + sent.height), FACTOR):
        for key in ("max_pixels", "min_pixels"):
            h, w = smart_resize(sent.height, sent.width, **{key: limit})
            if (w // FACTOR) * (h // FACTOR) == tokens:
                return Size(w, h)
    return None


def mismatch_message(base_url: str, sent: Size, tokens: int, *, per_request: str, client_limit: int | None = None) -> str:
    """What went wrong, both sizes, and the fixes; ``per_request`` says why per-request limits did not help.

    ``client_limit``: the client's --max-pixels (or --min-pixels when the server enlarged the image), for
    the server-side fix; the sent image's own area when unknown.
    """
    seen = server_size(sent, tokens)
    seen_text = f"{seen.width}x{seen.height}" if seen else "another size"
    expected = tokens_for(sent)
    smaller = tokens < expected
    limit = "max_pixels" if smaller else "min_pixels"
    fix_client = (f"pass --max-pixels {seen.width * seen.height} (or lower) so this client resizes to {seen_text} itself"
                  if smaller and seen else
                  f"pass --min-pixels {seen.width * seen.height} so this client sends no smaller image" if seen else
                  "match --min-pixels/--max-pixels to the server's limits")
    value = client_limit or sent.width * sent.height
    server_kwargs = json.dumps({limit: value})
    return (
        f"the server at {base_url} resizes images again: the {sent.width}x{sent.height} screenshot this client sent "
        f"(and named in the prompt) reached the model as {seen_text} ({tokens} image tokens instead of {expected}), "
        f"so the model would answer in {seen_text} pixels while the prompt says {sent.width}x{sent.height}. "
        f"Fix one side: {fix_client}, or restart the server with --mm-processor-kwargs '{server_kwargs}' "
        f"(`gui-agent serve MODEL --{limit.replace('_', '-')} {value}` does that), or with "
        f"--trust-request-mm-kwargs so this client sends its limits with each request. ({per_request})"
    )
