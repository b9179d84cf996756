"""ScreenSpot-format fixture sets rendered by the tests, and a model that answers per instruction."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from agent.geometry import Geometry, ModelPoint, Size
from agent.models.base import Generation
from agent.prompt import Prompt
from tasks.screenspot.grounding import EVAL_MAX_PIXELS

COLORS = [(220, 60, 60), (60, 160, 60), (60, 60, 220), (200, 160, 0), (120, 0, 160), (0, 150, 150)]


@dataclass(frozen=True)
class Target:
    """One element drawn on a fixture image: its instruction and box (x1, y1, x2, y2) in image pixels."""

    instruction: str
    box: tuple[int, int, int, int]
    ui_type: str
    image: str
    size: Size

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


def render(path: Path, size: Size, targets: list[tuple[str, tuple[int, int, int, int]]]) -> None:
    """A grey screen with one labelled coloured rectangle per target."""
    image = Image.new("RGB", (size.width, size.height), (235, 235, 235))
    draw = ImageDraw.Draw(image)
    for i, (label, (x1, y1, x2, y2)) in enumerate(targets):
        draw.rectangle([x1, y1, x2, y2], fill=COLORS[i % len(COLORS)])
        draw.text((x1 + 3, y1 + 3), label[:12], fill=(255, 255, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


# platform -> (image size, [(instruction, box xyxy, type)]); sizes chosen so model space != image space
V1_LAYOUT = {
    "mobile": (Size(540, 1170), [("open settings", (40, 100, 200, 160), "text"),
                                 ("search icon", (460, 40, 520, 90), "icon"),
                                 ("back arrow", (10, 30, 50, 70), "icon")]),
    "desktop": (Size(1000, 600), [("file menu", (0, 0, 60, 24), "text"),
                                  ("close window", (960, 0, 999, 24), "icon"),
                                  ("save button", (400, 500, 520, 540), "text")]),
    "web": (Size(1280, 720), [("sign in link", (1100, 20, 1200, 50), "text"),
                              ("logo", (20, 10, 120, 60), "icon")]),
}


def make_v1(root: Path, *, v2: bool = False, image_dir: str | None = None) -> list[Target]:
    """A v1 (or v2) layout: screenspot_<platform>[_v2].json with [x, y, w, h] boxes."""
    image_dir = image_dir or ("screenspotv2_image" if v2 else "screenspot_imgs")
    targets = []
    for platform, (size, items) in V1_LAYOUT.items():
        name = f"{platform}_0.png"
        render(root / image_dir / name, size, [(t, box) for t, box, _ in items])
        records = []
        for text, (x1, y1, x2, y2), kind in items:
            records.append({"img_filename": name, "bbox": [x1, y1, x2 - x1, y2 - y1], "instruction": text,
                            "data_type": kind, "data_source": "ios" if platform == "mobile" else "fixture"})
            targets.append(Target(text, (x1, y1, x2, y2), kind, name, size))
        suffix = "_v2" if v2 else ""
        (root / f"screenspot_{platform}{suffix}.json").write_text(json.dumps(records))
    return targets


PRO_LAYOUT = {
    "vscode_linux": ("Dev", "vscode", "linux", Size(1920, 1080),
                     [("run button", (1700, 40, 1760, 80), "icon"), ("explorer tab", (0, 60, 48, 110), "icon"),
                      ("terminal text", (300, 900, 420, 930), "text")]),
    "excel_windows": ("Office", "excel", "windows", Size(1600, 900),
                      [("sum function", (200, 100, 260, 130), "text"), ("bold icon", (400, 20, 430, 50), "icon")]),
}


def make_pro(root: Path) -> list[Target]:
    """A Pro layout: annotations/<app>.json with [x1, y1, x2, y2] boxes, images/<app>/... files."""
    targets = []
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for stem, (group, app, platform, size, items) in PRO_LAYOUT.items():
        name = f"{stem}/screen_0.png"
        render(root / "images" / name, size, [(t, box) for t, box, _ in items])
        records = []
        for i, (text, box, kind) in enumerate(items):
            records.append({"id": f"{stem}_{i}", "img_filename": name, "bbox": list(box), "img_size": [size.width, size.height],
                            "instruction": text, "instruction_cn": f"点击 {text}", "ui_type": kind, "platform": platform,
                            "application": app, "group": group})
            targets.append(Target(text, box, kind, name, size))
        (root / "annotations" / f"{stem}.json").write_text(json.dumps(records))
    return targets


def geometry_of(size: Size, max_pixels: int = EVAL_MAX_PIXELS) -> Geometry:
    return Geometry.for_screenshot(size, size, max_pixels=max_pixels)


def answer(point: tuple[float, float], size: Size, *, prefill: bool, max_pixels: int = EVAL_MAX_PIXELS) -> str:
    """The model's text for a click at ``point`` (image pixels), in model space, with or without prefill."""
    m = geometry_of(size, max_pixels).to_model(_inside(point, size))
    if prefill:
        return f"{m.x!r}, {m.y!r}]}}}}\n</tool_call>"
    return f'<tool_call>\n{{"name": "computer_use", "arguments": {{"action": "left_click", "coordinate": [{m.x!r}, {m.y!r}]}}}}\n</tool_call>'


def _inside(point: tuple[float, float], size: Size):
    from agent.geometry import ScreenPoint

    return ScreenPoint(min(point[0], size.width - 1e-9), min(point[1], size.height - 1e-9))


class ScriptedGrounder:
    """Answers each prompt by looking its instruction (the user turn) up in ``answers``; records prompts."""

    name = "scripted"

    def __init__(self, answers: dict[str, str] | Callable[[Prompt], str]) -> None:
        self.answers = answers
        self.prompts: list[Prompt] = []

    def generate(self, prompt: Prompt) -> Generation:
        self.prompts.append(prompt)
        text = self.answers(prompt) if callable(self.answers) else self.answers[prompt.user]
        return Generation(text)

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}


def centre_oracle(samples, *, prefill: bool = True, max_pixels: int = EVAL_MAX_PIXELS) -> Callable[[Prompt], str]:
    """A reply function that answers every sample's box centre; it recognises the image by its pixels."""
    import hashlib

    from agent.imaging import to_model_image

    def digest(image: Image.Image) -> str:
        return hashlib.sha1(image.tobytes()).hexdigest()

    table: dict[tuple[str, str], str] = {}
    for sample in samples:
        with Image.open(sample.image) as opened:
            image = opened.convert("RGB")
        size = Size(*image.size)
        key = (digest(to_model_image(image, geometry_of(size, max_pixels).model)), sample.instruction)
        x1, y1, x2, y2 = sample.box
        table[key] = answer(((x1 + x2) / 2, (y1 + y2) / 2), size, prefill=prefill, max_pixels=max_pixels)
    return lambda prompt: table[(digest(prompt.images[0]), prompt.user)]


def centre_answers(targets: list[Target], *, prefill: bool = True) -> dict[str, str]:
    return {t.instruction: answer(t.center, t.size, prefill=prefill) for t in targets}


@pytest.fixture
def v1_dir(tmp_path: Path) -> tuple[Path, list[Target]]:
    root = tmp_path / "screenspot"
    return root, make_v1(root)


@pytest.fixture
def pro_dir(tmp_path: Path) -> tuple[Path, list[Target]]:
    root = tmp_path / "screenspot-pro"
    return root, make_pro(root)


__all__ = ["ModelPoint", "ScriptedGrounder", "Target", "answer", "centre_answers", "geometry_of", "make_pro", "make_v1"]
