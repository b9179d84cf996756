"""What describe, detect and ground share: reading images, the model-space view, mapping and drawing."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, UnidentifiedImageError

from agent.errors import ConfigError
from agent.fonts import label_font
from agent.geometry import Geometry, Size
from agent.imaging import to_model_image
from agent.parser import ModelBox
from agent.server_resize import ResizeMode, ServerResized, for_server

# Distinct, saturated colours; the first is the one a single grounded element gets.
PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40)]


def server_file(path: str | Path, model: object) -> bytes | None:
    """The image file's bytes when ``model`` is a server (it may resize the file itself), else None."""
    return Path(path).read_bytes() if getattr(model, "image_format", None) is not None else None


def load_image(path: str | Path) -> Image.Image:
    """An image file as RGB; unreadable files are the user's to fix (exit 2), never a traceback."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except FileNotFoundError:
        raise ConfigError(f"no such image: {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ConfigError(f"cannot read {path} as an image ({exc}); give a PNG, JPEG or WebP file") from None


def model_view(image: Image.Image, min_pixels: int, max_pixels: int, *, file: bytes | None = None,
               resize: ResizeMode = "client") -> tuple[Geometry, Image.Image | ServerResized]:
    """The geometry of ``image`` (input space = its own pixels) and the image at model size (resized once).

    ``file``: ``image``'s own file, given when a server is asked: sent as it is when ``resize`` lets the server
    resize it (`agent.server_resize`), instead of resizing and re-encoding here."""
    if file is not None:
        geometry, sent = for_server(file, min_pixels, max_pixels, resize)
        if sent is not None and geometry.screenshot == Size(*image.size):
            return geometry, sent
    geometry = Geometry.for_screenshot(Size(*image.size), min_pixels=min_pixels, max_pixels=max_pixels)
    return geometry, to_model_image(image, geometry.model)


def box_to_screen(geometry: Geometry, box: ModelBox) -> list[float] | None:
    """A model-space box in original pixels, per axis. An edge that overshoots the image is clipped to it
    (models overshoot by a few pixels); a box with no area inside the image is None — rejected, never
    squashed onto the border."""
    model, screen = geometry.model, geometry.input
    sx, sy = screen.width / model.width, screen.height / model.height
    x1, x2 = (min(max(v, 0.0), model.width) for v in (box.x1, box.x2))
    y1, y2 = (min(max(v, 0.0), model.height) for v in (box.y1, box.y2))
    if x2 <= x1 or y2 <= y1:
        return None
    return [round(x1 * sx, 1), round(y1 * sy, 1), round(x2 * sx, 1), round(y2 * sy, 1)]


def annotate(
    image: Image.Image,
    boxes: list[tuple[list[float], str]] = (),  # type: ignore[assignment]
    points: list[tuple[float, float, str]] = (),  # type: ignore[assignment]
) -> Image.Image:
    """A copy of ``image`` with each box outlined and labelled, each point marked with a ring and cross."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    width = max(2, round(min(out.size) / 300))
    font = label_font(max(12, round(min(out.size) / 45)))
    for index, (xyxy, label) in enumerate(boxes):
        colour = PALETTE[index % len(PALETTE)]
        x1, y1, x2, y2 = xyxy
        draw.rectangle([x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)], outline=colour, width=width)
        if label:
            _label(draw, (x1, y1), label, colour, font)
    for index, (x, y, label) in enumerate(points):
        colour = PALETTE[index % len(PALETTE)]
        r = 4 * width
        draw.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=width)
        draw.line([x - 2 * r, y, x + 2 * r, y], fill=colour, width=max(1, width // 2))
        draw.line([x, y - 2 * r, x, y + 2 * r], fill=colour, width=max(1, width // 2))
        if label:
            _label(draw, (x + r, y + r), label, colour, font, above=False)
    return out


def _label(draw: ImageDraw.ImageDraw, at: tuple[float, float], text: str, colour, font, above: bool = True) -> None:
    """The label on a filled tab: above the box's top-left corner, or inside the image when there is no room."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left + 6, bottom - top + 4
    x, y = at
    y = y - h if above and y - h >= 0 else y
    draw.rectangle([x, y, x + w, y + h], fill=colour)
    draw.text((x + 3 - left, y + 2 - top), text, fill=(255, 255, 255), font=font)


def output_path(out: str | None, kind: str, source: str | Path) -> Path:
    """``--out`` or ``runs/<time>-<kind>-<stem>.png``; the parent directory is created."""
    path = Path(out) if out else Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{kind}-{Path(source).stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


PRINT_CAP = 2000  # characters of one text field printed; a runaway answer is megabytes, repeated per attempt


def emit(data: dict[str, Any], whole: Path | None = None) -> None:
    """The command's result as JSON on stdout (the human-readable messages go to stderr).

    With ``whole``, the complete result is written there too and long texts on stdout are cut to
    `PRINT_CAP` characters, saying where the whole text is.
    """
    if whole is not None:
        from agent.trajectory import write_json_atomic

        data = data | {"json": str(whole)}
        write_json_atomic(whole, data)
        data = _capped(data, f"the whole text is in {whole}")
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def _capped(value: Any, where: str) -> Any:
    if isinstance(value, str) and len(value) > PRINT_CAP:
        return value[:PRINT_CAP] + f"… [{len(value)} characters; {where}]"
    if isinstance(value, dict):
        return {k: _capped(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_capped(v, where) for v in value]
    return value


def usage(generation) -> dict[str, Any]:
    return {k: getattr(generation, k) for k in ("seconds", "image_tokens", "prompt_tokens", "completion_tokens")}


def ask(model, make_prompt, read, retries: int = 1):
    """Ask, read the answer with ``read`` (raises `ModelOutputError`), re-ask with the reason up to ``retries`` times.

    ``read(text, cut_off=...)`` is told whether the model stopped at its token limit (`Generation.cut_off`).

    Returns ``(value or None, attempts, last error or None)``; each attempt is ``{"raw", "error"}`` and
    the last attempt's `Generation` is ``attempts[-1]["generation"]`` (dropped from JSON output).
    """
    from agent.errors import ModelOutputError
    from agent.prompt import prompt_text

    attempts: list[dict[str, Any]] = []
    feedback = None
    for _ in range(retries + 1):
        prompt = make_prompt(feedback)
        generation = model.generate(prompt)
        try:
            value = read(prompt.prefill + generation.text, cut_off=generation.cut_off)
        except ModelOutputError as exc:
            attempts.append({"raw": generation.text, "error": str(exc), "generation": generation})
            feedback = prompt_text("tasks")["retry"]["feedback"].format(reason=str(exc).rstrip("."))
            continue
        attempts.append({"raw": generation.text, "error": None, "generation": generation})
        return value, attempts, None
    return None, attempts, attempts[-1]["error"]


def public(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"raw": a["raw"], "error": a["error"]} for a in attempts]
