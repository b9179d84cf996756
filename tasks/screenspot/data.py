"""Read a local copy of ScreenSpot v1, v2 or Pro into `Sample` records (reference §5).

Layouts:

- v1 (SeeClick) / v2 (OS-Atlas): ``screenspot_<platform>[_v2].json`` lists in the data directory, each item
  ``{img_filename, instruction, bbox: [x, y, width, height], data_type: text|icon, data_source}``; images in
  one of ``images/``, ``screenspot_imgs/``, ``screenspotv2_image/`` or the data directory itself.
- Pro: ``annotations/*.json`` lists, each item ``{id, img_filename, bbox: [x1, y1, x2, y2], img_size: [w, h],
  instruction, instruction_cn, ui_type: text|icon, platform, application, group}``; images in ``images/``.

Boxes are normalised to ``(x1, y1, x2, y2)`` in original image pixels. A sample with a missing field or
image is reported in `Dataset.problems` and left out; a directory that is not one of the layouts (or a
file in which no sample is usable) is a `ConfigError` that says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.errors import ConfigError

Format = Literal["v1", "v2", "pro"]
FORMATS = ("auto", "v1", "v2", "pro")
UI_TYPES = ("text", "icon")
V1_IMAGE_DIRS = ("images", "screenspot_imgs", "screenspotv2_image", "screenspot_images", "imgs", ".")
PRO_IMAGE_DIRS = ("images", ".")
_V1_FIELDS = ("img_filename", "instruction", "bbox", "data_type")
_PRO_FIELDS = ("img_filename", "instruction", "bbox", "img_size", "ui_type", "platform", "application")


@dataclass(frozen=True)
class Sample:
    """One grounding question: find the element ``instruction`` names in ``image``."""

    id: str
    image: Path
    instruction: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the original image's pixels
    ui_type: str  # "text" | "icon"
    split: str  # v1/v2: the platform file (mobile, desktop, web); Pro: the annotation file's stem
    platform: str
    source: str = ""  # v1/v2 data_source (ios, windows, gitlab, ...)
    group: str = ""  # Pro: Dev, Creative, CAD, Scientific, Office, OS
    application: str = ""  # Pro
    image_size: tuple[int, int] | None = None  # Pro's img_size, checked against the image when it is read

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "image": str(self.image), "instruction": self.instruction, "bbox": list(self.box),
            "ui_type": self.ui_type, "split": self.split, "platform": self.platform, "source": self.source,
            "group": self.group, "application": self.application,
        }


@dataclass
class Dataset:
    format: Format
    root: Path
    samples: list[Sample]
    splits: list[str]
    problems: list[str] = field(default_factory=list)  # one line per sample left out, saying why


def load(root: str | Path, format: str = "auto", *, splits: Iterable[str] = (), language: str = "en",
         images: str | Path | None = None) -> Dataset:
    """Detect (or check) the layout of ``root`` and read its samples, optionally only some ``splits``."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"--data {root} is not a directory; point it at a local copy of ScreenSpot v1, v2 or Pro")
    if format not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    pro_files = sorted((root / "annotations").glob("*.json")) if (root / "annotations").is_dir() else []
    v1_files = [p for p in sorted(root.glob("*.json")) if _looks_like_v1(p)]
    if format == "auto":
        if pro_files:
            format = "pro"
        elif v1_files:
            format = "v2" if any("v2" in p.stem.lower() for p in v1_files) else "v1"
        else:
            raise ConfigError(
                f"{root} holds no ScreenSpot annotations: expected screenspot_<platform>.json lists (v1/v2, e.g. "
                f"screenspot_mobile.json with img_filename, instruction, bbox, data_type) or an annotations/ "
                f"directory of *.json files (Pro). Found: {_listing(root)}"
            )
    if format == "pro":
        if not pro_files:
            raise ConfigError(f"--format pro needs {root}/annotations/*.json (ScreenSpot-Pro layout); found: {_listing(root)}")
        files = pro_files
    else:
        files = v1_files
        if not files:
            raise ConfigError(
                f"--format {format} needs screenspot_<platform>.json lists in {root} (each item with img_filename, "
                f"instruction, bbox [x, y, w, h], data_type); found: {_listing(root)}"
            )
    available = {_split_name(p, format): p for p in files}
    wanted = [s for s in splits if s]
    unknown = [s for s in wanted if s not in available]
    if unknown:
        raise ConfigError(f"unknown --split {', '.join(unknown)}; this {format} copy has: {', '.join(available)}")
    chosen = {name: path for name, path in available.items() if not wanted or name in wanted}
    image_dir = _image_dir(root, format, chosen, images)
    dataset = Dataset(format, root, [], list(chosen))  # type: ignore[arg-type]
    for split, path in chosen.items():
        items = _read_list(path)
        before = len(dataset.samples), len(dataset.problems)
        for index, item in enumerate(items):
            try:
                sample = (_pro_sample if format == "pro" else _v1_sample)(item, index, split, image_dir, language)
            except _Bad as exc:
                dataset.problems.append(f"{path.name}[{index}]: {exc}")
                continue
            dataset.samples.append(sample)
        if items and len(dataset.samples) == before[0]:
            first = dataset.problems[before[1]]
            raise ConfigError(f"no usable sample in {path} ({len(items)} items); the first problem: {first}")
    ids = [s.id for s in dataset.samples]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise ConfigError(f"sample id {dup!r} appears twice in {root}; ids must be unique to score and resume")
    return dataset


class _Bad(Exception):
    """One sample is unusable; the message says why."""


def _v1_sample(item: Any, index: int, split: str, image_dir: Path, language: str) -> Sample:
    _require(item, _V1_FIELDS)
    x, y, w, h = _numbers(item["bbox"], "bbox [x, y, width, height]")
    if w < 0 or h < 0:
        raise _Bad(f"bbox {item['bbox']} has a negative width or height (v1/v2 boxes are [x, y, width, height])")
    return Sample(
        id=f"{split}/{index}", image=_image(image_dir, item["img_filename"]), instruction=_text(item, "instruction"),
        box=(x, y, x + w, y + h), ui_type=_ui_type(item["data_type"], "data_type"), split=split, platform=split,
        source=str(item.get("data_source", "")),
    )


def _pro_sample(item: Any, index: int, split: str, image_dir: Path, language: str) -> Sample:
    _require(item, _PRO_FIELDS)
    x1, y1, x2, y2 = _numbers(item["bbox"], "bbox [x1, y1, x2, y2]")
    if x2 < x1 or y2 < y1:
        raise _Bad(f"bbox {item['bbox']} has x2 < x1 or y2 < y1 (Pro boxes are [x1, y1, x2, y2])")
    width, height = _numbers(item["img_size"], "img_size [width, height]")
    if width <= 0 or height <= 0:
        raise _Bad(f"img_size {item['img_size']} is not a positive [width, height]")
    key = "instruction_cn" if language == "cn" else "instruction"
    return Sample(
        id=f"{split}/{item.get('id', index)}", image=_image(image_dir, item["img_filename"]), instruction=_text(item, key),
        box=(x1, y1, x2, y2), ui_type=_ui_type(item["ui_type"], "ui_type"), split=split,
        platform=str(item["platform"]), group=str(item.get("group") or ""), application=str(item["application"]),
        image_size=(int(width), int(height)),
    )


def _require(item: Any, fields: tuple[str, ...]) -> None:
    if not isinstance(item, dict):
        raise _Bad(f"expected an object, got {type(item).__name__}")
    missing = [f for f in fields if f not in item]
    if missing:
        raise _Bad(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")


def _numbers(value: Any, what: str) -> tuple[float, ...]:
    n = what.count(",") + 1
    if not (isinstance(value, (list, tuple)) and len(value) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v for v in value)):
        raise _Bad(f"{what.split()[0]} must be {n} numbers {what[what.index('['):]}, got {value!r}")
    return tuple(float(v) for v in value)


def _text(item: dict, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{key} is empty or missing")
    return value.strip()


def _ui_type(value: Any, key: str) -> str:
    if value not in UI_TYPES:
        raise _Bad(f"{key} must be text or icon, got {value!r}")
    return value


def _image(image_dir: Path, name: Any) -> Path:
    if not isinstance(name, str) or not name:
        raise _Bad(f"img_filename must be a file name, got {name!r}")
    path = image_dir / name
    if not path.is_file():
        raise _Bad(f"image {path} does not exist")
    return path


def _read_list(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, list):
        raise ConfigError(f"{path} must hold a JSON list of samples, but holds a {type(data).__name__}")
    return data


def _looks_like_v1(path: Path) -> bool:
    """A v1/v2 split file: named screenspot_*.json, or any JSON list whose first item has img_filename and bbox."""
    if path.name.lower().startswith("screenspot"):
        return True
    try:
        head = path.read_text("utf-8", errors="replace")[:4096].lstrip()
    except OSError:
        return False
    return head.startswith("[") and '"img_filename"' in head and '"bbox"' in head


def _split_name(path: Path, format: str) -> str:
    if format == "pro":
        return path.stem
    stem = path.stem.lower()
    stem = stem.removeprefix("screenspot_").removeprefix("screenspot-")
    for suffix in ("_v2", "-v2", "_v1", "-v1"):
        stem = stem.removesuffix(suffix)
    return stem or path.stem


def _image_dir(root: Path, format: str, files: dict[str, Path], given: str | Path | None) -> Path:
    """The directory most of the first samples' images are in (or ``given``, checked)."""
    if given is not None:
        if not Path(given).is_dir():
            raise ConfigError(f"--images {given} is not a directory")
        return Path(given)
    names: list[str] = []
    for path in files.values():
        items = _read_list(path)
        names += [i["img_filename"] for i in items[:10] if isinstance(i, dict) and isinstance(i.get("img_filename"), str)]
    candidates = [root / d for d in (PRO_IMAGE_DIRS if format == "pro" else V1_IMAGE_DIRS) if (root / d).is_dir()]
    scored = [(sum((d / n).is_file() for n in names), -i, d) for i, d in enumerate(candidates)]
    best = max(scored, default=(0, 0, root))
    if names and best[0] == 0:
        tried = ", ".join(str(d) for d in candidates) or str(root)
        raise ConfigError(
            f"cannot find the images of {root}: none of {names[0]!r} and {len(names) - 1} other img_filename values "
            f"exist under {tried}. Put the images in {root}/images/ or pass --images DIR"
        )
    return best[2]


def _listing(root: Path) -> str:
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    return ", ".join(entries[:12]) + (f" and {len(entries) - 12} more" if len(entries) > 12 else "") or "nothing"
