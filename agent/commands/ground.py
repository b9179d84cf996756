"""Find one element in an image: its point and box in original pixels as JSON, and an annotated copy."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

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
from agent.errors import CutOffAnswer, ParseError
from agent.geometry import MAX_PIXELS, MIN_PIXELS, Geometry, ModelPoint, ScreenPoint
from agent.models.base import Generation, Model
from agent.parser import ModelBox, parse_boxes, parse_point
from agent.prompt import Prompt, build_prompt, prompt_text
from agent.server_resize import ResizeMode
from tools import get_tool

Mode = Literal["box", "click"]


@dataclass(frozen=True)
class Grounding:
    """The element's point (a box's centre in box mode) and box, in original and model pixels."""

    geometry: Geometry
    generation: Generation
    point: list[float] | None = None
    box: list[float] | None = None
    point_model: list[float] | None = None
    box_model: list[float] | None = None
    label: str = ""
    error: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "point": self.point, "box": self.box, "label": self.label,
            "point_model": self.point_model, "box_model": self.box_model,
            "screen_size": [self.geometry.input.width, self.geometry.input.height],
            "model_size": [self.geometry.model.width, self.geometry.model.height],
            "error": self.error, "raw": self.generation.text, "usage": usage(self.generation),
            "attempts": self.attempts,
        }


def ground(
    model: Model,
    image: Image.Image,
    target: str,
    *,
    mode: Mode = "box",
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
    retries: int = 1,
    file: bytes | None = None,
    resize: ResizeMode = "client",
) -> Grounding:
    """Ask where ``target`` is; ``box`` mode asks for a ``bbox_2d``, ``click`` mode for a computer_use click."""
    text = prompt_text("tasks")["ground"]
    geometry, model_image = model_view(image, min_pixels, max_pixels, file=file, resize=resize)
    if mode == "click":
        prompt = build_prompt(get_tool("computer_use"), text["click_instruction"].format(target=target), [],
                              [model_image], geometry.model, prefill=text["click_prefill"])
    else:
        prompt = Prompt(text["system"], text["box"].format(target=target), (model_image,),
                        meta={"model_size": [geometry.model.width, geometry.model.height]})

    def read(answer: str, cut_off: bool = False) -> tuple[ModelBox | None, tuple[float, float], ScreenPoint]:
        box = None
        if mode == "box":
            try:
                box = parse_boxes(answer)[0]
            except ParseError as no_box:
                try:  # a point is still an answer
                    parse_point(answer, cut_off=cut_off)
                except CutOffAnswer:
                    raise
                except ParseError:
                    raise no_box from None  # the retry asks for the box it asked for, not a click coordinate
        x, y = box.center if box else parse_point(answer, cut_off=cut_off)
        return box, (x, y), geometry.to_screen(ModelPoint(x, y))  # outside the image: retried

    found, attempts, error = ask(
        model, lambda feedback: replace(prompt, user=prompt.user + (feedback or "")), read, retries
    )
    generation = attempts[-1]["generation"]
    if found is None:
        return Grounding(geometry, generation, error=error, attempts=public(attempts))
    box, (x, y), point = found
    return Grounding(
        geometry, generation,
        point=[round(point.x, 1), round(point.y, 1)],
        box=box_to_screen(geometry, box) if box else None,
        point_model=[x, y],
        box_model=[box.x1, box.y1, box.x2, box.y2] if box else None,
        label=box.label if box else "",
        attempts=public(attempts),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from agent.options import add_model_arguments
    from agent.server_resize import add_resize_argument

    parser.add_argument("image", help="PNG/JPEG screenshot")
    parser.add_argument("target", help='the element, in words: "the sign-in button"')
    parser.add_argument("--mode", choices=("box", "click"), default="box",
                        help="box (default): ask for a bbox_2d (point = its centre); click: ask for a computer_use click")
    parser.add_argument("--out", default=None,
                        help="annotated image (default runs/<time>-ground-<image>.png); the whole JSON result is "
                             "written beside it (.json)")
    parser.add_argument("--retries", type=non_negative_int, default=1, help="re-asks, told what was wrong, after an unusable answer (default 1)")
    add_model_arguments(parser)
    add_resize_argument(parser)


def main(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from agent.options import build_model, console

    image = load_image(args.image)
    model = build_model(args)
    result = ground(model, image, args.target, mode=args.mode, min_pixels=args.min_pixels, max_pixels=args.max_pixels,
                    retries=args.retries, file=server_file(args.image, model), resize=args.resize)
    out = output_path(args.out, "ground", args.image)
    boxes = [(result.box, result.label or args.target)] if result.box else []
    points = [(*result.point, "" if boxes else args.target)] if result.point else []
    annotate(image, boxes, points).save(out)
    emit({"image": str(Path(args.image)), "target": args.target, "annotated": str(out), **result.to_dict()},
         out.with_suffix(".json"))
    if result.error:
        console.print(f"[bold red]not found:[/] {escape(result.error)}")
        return 1
    console.print(f"{args.target!r} at ({result.point[0]:.0f}, {result.point[1]:.0f}); annotated image: {out}")
    return 0
