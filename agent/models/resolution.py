"""At which size does a server really feed our screenshot to the model? Read from its token counts.

Qwen2.5-VL turns a W x H image into (W/28)(H/28) tokens between ``<|vision_start|>`` and ``<|vision_end|>``;
if the model got another number than the client's size implies, the server resized the image again and the
model answers in a space the prompt never named. The count is read from the prompt's token ids where the
server returns them (`image_runs`), or from ``usage.prompt_tokens`` differences: against the prompt without
its images (`measured_image_tokens`), or against the same prompt with a probe image (`choose_probe`,
`probe_is_decisive`, `explain_probe`). These are the pure parts of the handshake (`agent.models.handshake`).
"""

from __future__ import annotations

import json
import math

from agent.errors import ConfigError
from agent.geometry import FACTOR, MAX_RATIO, Size, smart_resize

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


def mismatch_message(base_url: str, sent: Size, tokens: int | None, *, per_request: str, client_limit: int | None = None,
                     probe: bool = False) -> str:
    """What went wrong, both sizes, and the fixes; ``per_request`` says why per-request limits did not help.

    ``tokens``: the image tokens the model got (None: the server's usage allows no single answer).
    ``client_limit``: the client's --max-pixels (or --min-pixels when the server enlarged the image), for
    the server-side fix; the sent image's own area when unknown. ``probe``: ``sent`` was the handshake's
    probe (the largest size this client can send), not a screenshot.
    """
    seen = server_size(sent, tokens) if tokens is not None else None
    seen_text = f"{seen.width}x{seen.height}" if seen else "another size"
    expected = tokens_for(sent)
    smaller = tokens is None or tokens < expected
    limit = "max_pixels" if smaller else "min_pixels"
    fix_client = (f"pass --max-pixels {seen.width * seen.height} (or lower) so this client resizes to {seen_text} itself"
                  if smaller and seen else
                  f"pass --min-pixels {seen.width * seen.height} so this client sends no smaller image" if seen else
                  "match --min-pixels/--max-pixels to the server's limits")
    value = client_limit or sent.width * sent.height
    server_kwargs = json.dumps({limit: value})
    what = (f"a {sent.width}x{sent.height} image (the largest this client sends under its --max-pixels; the handshake's "
            f"probe)" if probe else f"the {sent.width}x{sent.height} screenshot this client sent (and named in the prompt)")
    counted = f"{tokens} image tokens instead of {expected}" if tokens is not None else f"not {expected} image tokens"
    return (
        f"the server at {base_url} resizes images again: {what} reached the model as {seen_text} ({counted}), "
        f"so the model would answer in {seen_text} pixels while the prompt says {sent.width}x{sent.height}. "
        f"Fix one side: {fix_client}, or restart the server with --mm-processor-kwargs '{server_kwargs}' "
        f"(`gui-agent serve MODEL --{limit.replace('_', '-')} {value}` does that), or with "
        f"--trust-request-mm-kwargs so this client sends its limits with each request. ({per_request})"
    )


# -- reading image tokens from the prompt's token ids (vLLM's `return_token_ids`) ---------------------------
QWEN_MARKERS = (151652, 151655, 151653)  # <|vision_start|>, <|image_pad|>, <|vision_end|> in every Qwen2/2.5-VL tokenizer
Markers = tuple[int, int, int]


def image_runs(ids: list[int], images: int, markers: Markers | None = None) -> tuple[Markers, list[int]] | None:
    """Per image, the placeholder tokens between its vision markers in a prompt's token ids, and the markers.

    A server that returns the prompt's ids after its multimodal processing (vLLM) has expanded each image's
    one ``<|image_pad|>`` to one per token the model gets. ``markers`` known: read with them, strictly.
    Unknown: Qwen's ids, else the one (start, pad, end) triple the ids' structure allows (start and end
    ``images`` times each, the pad only in runs between them; the longest runs win, so text cannot pass
    for an image, and each must be 2 tokens or more). None when the ids do not show ``images`` images
    unambiguously.
    """
    if markers is not None:
        return (markers, counts) if (counts := _runs_of(ids, images, markers)) is not None else None
    if (counts := _runs_of(ids, images, QWEN_MARKERS)) is not None:
        return QWEN_MARKERS, counts
    found: dict[Markers, list[int]] = {}
    i = 0
    while i < len(ids):
        j = i
        while j < len(ids) and ids[j] == ids[i]:
            j += 1
        if i > 0 and j < len(ids):
            triple = (ids[i - 1], ids[i], ids[j])
            if triple not in found and (counts := _runs_of(ids, images, triple)) is not None:
                found[triple] = counts
        i = j
    ranked = sorted(found.items(), key=lambda item: -sum(item[1]))
    if not ranked or min(ranked[0][1]) < 2 or len(ranked) > 1 and sum(ranked[0][1]) == sum(ranked[1][1]):
        return None  # e.g. a one-token image among one-off text tokens: no way to tell it apart
    return ranked[0]


def _runs_of(ids: list[int], images: int, markers: Markers) -> list[int] | None:
    start, pad, end = markers
    if len({start, pad, end}) < 3 or ids.count(start) != images or ids.count(end) != images:
        return None
    counts, i = [], 0
    for _ in range(images):
        i = ids.index(start, i) + 1
        j = i
        while j < len(ids) and ids[j] == pad:
            j += 1
        if j == i or j >= len(ids) or ids[j] != end:
            return None
        counts.append(j - i)
        i = j
    return counts if sum(counts) == ids.count(pad) else None


# -- the usage probe: one request whose verdict covers every size the client can send ----------------------
def resized_tokens(size: Size, *, min_pixels: int = 1, max_pixels: int) -> int:
    """Image tokens of ``size`` (a 28-multiple) after a server's Qwen resize with these limits."""
    h, w = smart_resize(size.height, size.width, min_pixels=min_pixels, max_pixels=max_pixels)
    return tokens_for(Size(w, h))


def _server_limit_candidates(sizes: list[Size], below: int) -> list[int]:
    """Every server limit (max_pixels or min_pixels) under ``below`` at which Qwen's resize of one of ``sizes``
    changes: between two neighbours the resized sizes stay the same, so these (and their neighbours) are
    all there is to try."""
    out: set[int] = set()
    for size in sizes:
        for side, other in ((size.height, size.width), (size.width, size.height)):
            for k in range(1, int(math.sqrt(below * side / other) / FACTOR) + 3):
                limit = math.ceil(FACTOR * FACTOR * k * k * other / side)
                out.update(v for v in (limit - 1, limit, limit + 1) if 0 < v < below)
    return sorted(out)


def probe_is_decisive(real: Size, probe: Size) -> bool:
    """Can ``prompt_tokens(probe) - prompt_tokens(real) == tokens_for(probe) - tokens_for(real)`` (same text,
    ``real`` swapped for a larger ``probe``) come about with either image resized? Under Qwen's resize
    with any server limits (min <= max): the probe shrunk with the real image kept, or the real image
    enlarged, makes the difference smaller; so only both shrunk (server max below the real image) could
    fake it, and that is checked at every server max where a resize changes. Decisive: no way to fake it.
    (A server min_pixels above the client's largest image, enlarging everything, is not considered.)"""
    if real.width * real.height >= probe.width * probe.height:
        return False
    expected = tokens_for(probe) - tokens_for(real)
    return all(resized_tokens(probe, max_pixels=m) - resized_tokens(real, max_pixels=m) != expected
               for m in _server_limit_candidates([real, probe], real.width * real.height))


def largest_sizes(max_pixels: int) -> list[Size]:
    """The 28-multiple sizes of the largest area a client resizing under ``max_pixels`` can send."""
    blocks = max_pixels // (FACTOR * FACTOR)
    while blocks > 0:
        shapes = [Size(FACTOR * a, FACTOR * (blocks // a)) for a in range(1, blocks + 1)
                  if blocks % a == 0 and max(a, blocks // a) <= MAX_RATIO * min(a, blocks // a)]
        if shapes:
            return shapes
        blocks -= 1
    return [Size(FACTOR, FACTOR)]


def choose_probe(real: Size, max_pixels: int) -> Size | None:
    """The largest size the client can send, shaped as close to ``real`` as a decisive probe allows; None
    when ``real`` already has that area or no such size is decisive (then a text-only baseline is the check)."""
    ratio = math.log(real.width / real.height)
    shapes = sorted(largest_sizes(max_pixels), key=lambda s: abs(math.log(s.width / s.height) - ratio))
    return next((shape for shape in shapes if probe_is_decisive(real, shape)), None)


def explain_probe(real: Size, probe: Size, difference: int) -> list[tuple[int, int]]:
    """The (real, probe) image tokens under each server limit that yields ``difference`` for the pair: what
    the server may have done when the probe did not come out as expected, the mildest resize (a server limit
    nearest the usual ones) first; e.g. a 1932x1092 image and a 3584x3584 probe differ by 3 tokens both under
    max_pixels 1,003,520 (1222 and 1225) and under some 5,000 (6 and 9)."""
    outcomes = set()
    for m in _server_limit_candidates([real, probe], probe.width * probe.height):  # server max below the probe
        r, p = resized_tokens(real, max_pixels=m), resized_tokens(probe, max_pixels=m)
        if p - r == difference:
            outcomes.add((r, p))
    for m in _server_limit_candidates([real, probe], probe.width * probe.height):  # server min above the real image
        if m > real.width * real.height:
            h, w = smart_resize(real.height, real.width, min_pixels=m, max_pixels=max(m, probe.width * probe.height))
            if tokens_for(probe) - tokens_for(Size(w, h)) == difference:
                outcomes.add((tokens_for(Size(w, h)), tokens_for(probe)))
    return sorted(outcomes, reverse=True)
