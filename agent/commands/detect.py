"""Detect objects in an image: boxes in original pixels as JSON, and an annotated copy."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from agent.argtypes import non_negative_int
from agent.commands.common import (
    annotate,
    ask,
    box_to_screen,
    emit,
    load_image,
    model_view,
    output_path,
    public,
    server_file,
    usage,
)
from agent.errors import OutOfRangeError
from agent.geometry import MAX_PIXELS, MIN_PIXELS, Geometry
from agent.models.base import Generation, Model
from agent.parser import ModelBox, parse_boxes
from agent.prompt import Prompt, prompt_text
from agent.server_resize import ResizeMode


@dataclass(frozen=True)
class Detection:
    """What the model found, in both spaces, with the raw answer kept for inspection."""

    geometry: Geometry
    boxes: list[dict[str, Any]]
    generation: Generation
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "screen_size": [self.geometry.input.width, self.geometry.input.height],
            "model_size": [self.geometry.model.width, self.geometry.model.height],
            "boxes": self.boxes,
            "error": self.error,
            "raw": self.generation.text,
            "usage": usage(self.generation),
            **self.info,
        }


def detect(
    model: Model,
    image: Image.Image,
    target: str | None = None,
    *,
    prompt: str | None = None,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
    retries: int = 1,
    file: bytes | None = None,
    resize: ResizeMode = "client",
) -> Detection:
    """Ask for ``bbox_2d`` boxes of ``target`` (or the full ``prompt``) and map them to ``image`` pixels."""
    text = prompt_text("tasks")["detect"]
    geometry, model_image = model_view(image, min_pixels, max_pixels, file=file, resize=resize)
    user = prompt or text["user"].format(target=target or text["default_target"])
    meta = {"model_size": [geometry.model.width, geometry.model.height]}

    def read(answer: str, cut_off: bool = False) -> list[ModelBox]:
        boxes = parse_boxes(answer)  # cut off or not, a truncated list keeps its complete items only
        if all(box_to_screen(geometry, box) is None for box in boxes):
            raise OutOfRangeError(f"every box lies outside the {geometry.model.width}x{geometry.model.height} image; "
                                  "give boxes in its pixels")
        return boxes

    found, attempts, error = ask(
        model, lambda feedback: Prompt(text["system"], user + (feedback or ""), (model_image,), meta=meta),
        read, retries,
    )
    boxes, rejected = [], []
    for box in found or []:
        xyxy, model_box = box_to_screen(geometry, box), [box.x1, box.y1, box.x2, box.y2]
        if xyxy is None:
            rejected.append({"label": box.label, "bbox_model": model_box, "reason": "outside the image"})
        else:
            boxes.append({"label": box.label, "bbox": xyxy, "bbox_model": model_box})
    info = {"attempts": public(attempts)} | ({"rejected": rejected} if rejected else {})
    return Detection(geometry, boxes, attempts[-1]["generation"], error, info)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from agent.options import add_model_arguments
    from agent.server_resize import add_resize_argument

    parser.add_argument("image", help="PNG/JPEG screenshot or photo")
    parser.add_argument("target", nargs="?", default=None,
                        help="what to detect, e.g. 'the buttons' (default: every interactive UI element)")
    parser.add_argument("--prompt", default=None, help="the whole request instead of the built-in wording")
    parser.add_argument("--out", default=None, help="annotated image (default runs/<time>-detect-<image>.png); the whole JSON "
                             "result is written beside it (.json)")
    parser.add_argument("--retries", type=non_negative_int, default=1, help="re-asks, told what was wrong, after an unusable answer (default 1)")
    add_model_arguments(parser)
    add_resize_argument(parser)


def main(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from agent.options import build_model, console

    image = load_image(args.image)
    model = build_model(args)
    result = detect(model, image, args.target, prompt=args.prompt, min_pixels=args.min_pixels,
                    max_pixels=args.max_pixels, retries=args.retries, file=server_file(args.image, model), resize=args.resize)
    out = output_path(args.out, "detect", args.image)
    annotate(image, [(b["bbox"], b["label"]) for b in result.boxes]).save(out)
    emit({"image": str(Path(args.image)), "annotated": str(out), **result.to_dict()}, out.with_suffix(".json"))
    if result.error:
        console.print(f"[bold red]no boxes:[/] {escape(result.error)}")
        return 1
    console.print(f"{len(result.boxes)} boxes; annotated image: {out}")
    return 0
