"""A stand-in for a grounding model, with no weights: it finds the recorded target's picture on the live screen.

`TemplateGroundingModel` reads a heal prompt as a model would — the recorded action in the text, the
crop of the recorded target (first image) and the live screen (second image) — and answers the recorded
action at the place where that crop matches best (normalised cross-correlation over scales, on
half-size grayscale images). It heals a target that moved; it cannot know that a renamed label means
the same thing (a real VLM can), and where nothing matches it answers the recorded point unchanged, so
the replay's check of the next screen decides. ``python -m agent.regression.template`` serves it over
HTTP (OpenAI-compatible, loopback) so `gui-agent replay --live` and the pytest plugin can use it
without a GPU.
"""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import numpy as np
from PIL import Image

from agent.models.base import Generation

MIN_SCORE = 0.6  # below this the crop is not on the screen
SCALES = np.geomspace(0.2, 1.1, 28)  # crop pixels -> live model pixels (the heal enlarges crops 1x to 4x)
_STEP = re.compile(r"step \d+ was (\{.*?\})")


def find(crop_canvas: Image.Image, live: Image.Image) -> tuple[float, float, float] | None:
    """(score, x, y): where the crop on ``crop_canvas`` best matches ``live`` (live pixels), or None."""
    canvas = np.asarray(crop_canvas.convert("RGB"), dtype=np.int16)
    inked = np.argwhere(np.abs(canvas - 128).max(axis=2) > 0)
    if len(inked) == 0:
        return None
    (top, left), (bottom, right) = inked.min(axis=0) + 3, inked.max(axis=0) - 2  # inside the 3-px outline
    if bottom - top < 4 or right - left < 4:
        return None
    crop = crop_canvas.convert("L").crop((int(left), int(top), int(right), int(bottom)))
    screen = live.convert("L").reduce(2)
    target = np.asarray(screen, dtype=np.float64)
    best: tuple[float, float, float] | None = None
    for scale in SCALES:
        w, h = round(crop.width * scale / 2), round(crop.height * scale / 2)
        if w < 6 or h < 6 or w > target.shape[1] or h > target.shape[0]:
            continue
        template = np.asarray(crop.resize((w, h), Image.Resampling.BOX), dtype=np.float64)
        score, x, y = _ncc(target, template)
        if best is None or score > best[0]:
            best = (score, (x + w / 2) * 2, (y + h / 2) * 2)
    return best


def _ncc(image: np.ndarray, template: np.ndarray) -> tuple[float, int, int]:
    """The best normalised cross-correlation of ``template`` over ``image`` (FFT), and where (top-left)."""
    h, w = template.shape
    t = template - template.mean()
    norm = np.sqrt((t * t).sum())
    if norm == 0:
        return 0.0, 0, 0
    shape = (image.shape[0] + h, image.shape[1] + w)
    corr = np.fft.irfft2(np.fft.rfft2(image, shape) * np.conj(np.fft.rfft2(t, shape)), shape)
    corr = corr[: image.shape[0] - h + 1, : image.shape[1] - w + 1]
    s = np.pad(image, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    s2 = np.pad(image * image, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    total = s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w]
    total2 = s2[h:, w:] - s2[:-h, w:] - s2[h:, :-w] + s2[:-h, :-w]
    spread = np.sqrt(np.maximum(total2 - total * total / (h * w), 1e-9))
    ncc = corr / (norm * spread)
    ncc[spread < 1e-3 * np.sqrt(h * w)] = 0  # a flat patch matches nothing
    y, x = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
    return float(ncc[y, x]), int(x), int(y)


def answer(text: str, images: list[Image.Image]) -> str:
    """The tool call for a heal prompt's ``text`` and images (crop canvas, live screen at model size)."""
    found = _STEP.search(text)
    if not found or len(images) < 2:
        return "I can only answer live-replay heal prompts: the recorded step and two images."
    action = json.loads(found.group(1))
    if "coordinate" in action:
        match = find(images[0], images[-1])
        if match is not None and match[0] >= MIN_SCORE:
            action["coordinate"] = [round(match[1]), round(match[2])]
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": action}) + "\n</tool_call>"


class TemplateGroundingModel:
    """The in-process model (the `Model` protocol)."""

    name = "template-grounding"

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, prompt: Any) -> Generation:
        self.calls += 1
        return Generation(answer(prompt.user, list(prompt.images)))

    def describe(self) -> dict[str, Any]:
        return {"backend": "template", "name": self.name}


def answer_request(body: dict[str, Any]) -> str:
    """`ScriptedServer` callable: the chat request's text and data-URI images -> the answer."""
    content = body["messages"][-1]["content"]
    parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
    text = "".join(p.get("text", "") for p in parts if p.get("type") == "text")
    images = [Image.open(io.BytesIO(base64.b64decode(p["image_url"]["url"].split(",", 1)[1])))
              for p in parts if p.get("type") == "image_url"]
    return answer(text, images)


def main(argv: list[str] | None = None) -> int:
    """``python -m agent.regression.template [--port N]``: serve it; print the options to use."""
    import argparse
    import contextlib
    import threading

    from agent.models.testing import ScriptedServer

    parser = argparse.ArgumentParser(prog="python -m agent.regression.template", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8003, help="port on 127.0.0.1 (default 8003; 0 = any free one)")
    args = parser.parse_args(argv)
    try:
        server = ScriptedServer(answer_request, models=("template",), port=args.port)
    except OSError as exc:
        parser.exit(2, f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}; pick another --port\n")
    with server:
        print(f"template grounding: --base-url {server.base_url} --model template   (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
