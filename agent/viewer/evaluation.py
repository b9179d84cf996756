"""Reports of an evaluation directory: a table per task linking each episode's report, or for ScreenSpot
a page per split with a thumbnail of every sample (target box and predicted point), misses first."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from agent.trajectory import RUN, read_jsonl
from agent.viewer.templating import render
from agent.viewer.trajectory import REPORT, write_trajectory_report

RESULTS = "results.jsonl"
THUMB_WIDTH = 480
BOX_COLOR, POINT_COLOR = (60, 180, 75), (230, 25, 75)


def latest(directory: Path) -> list[dict[str, Any]]:
    """The newest record of each unit in ``results.jsonl`` (an errored unit may have been rerun)."""
    records, _ = read_jsonl(directory / RESULTS)
    newest: dict[str, dict[str, Any]] = {}
    for record in records:
        newest[f"{record.get('task')}#{record.get('episode')}"] = record
    return list(newest.values())


def is_screenspot(records: list[dict[str, Any]]) -> bool:
    return any("correctness" in r or "box" in r and "split" in r for r in records)


def write_eval_report(directory: Path) -> Path:
    """``DIR/report.html``: per task, each episode's success, reward, steps and time, linking its report."""
    records = latest(directory)
    tasks: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        row = dict(record)
        episode_dir = directory / str(record.get("dir") or "")
        row["link"] = None
        if record.get("dir") and (episode_dir / RUN).is_file():
            with contextlib.suppress(Exception):  # a torn episode still gets its row, just no link
                write_trajectory_report(episode_dir, back=f"../{REPORT}")
                row["link"] = f"{record['dir']}/{REPORT}"
        tasks.setdefault(str(record.get("task")), []).append(row)
    summary = [_task_summary(name, rows) for name, rows in tasks.items()]
    html = render("evaluation.html", title=f"evaluation {directory.name}", directory=directory.name, tasks=tasks,
                  summary=summary, total=_task_summary("all", records))
    out = directory / REPORT
    out.write_text(html, "utf-8")
    return out


def _task_summary(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    rewards = [float(r["reward"]) for r in rows if r.get("reward") is not None]
    steps = [r["steps"] for r in rows if r.get("steps") is not None]
    seconds = [r["seconds"] for r in rows if r.get("seconds") is not None]
    return {"name": name, "episodes": len(rows), "successes": sum(bool(r.get("success")) for r in rows),
            "rate": sum(bool(r.get("success")) for r in rows) / len(rows) if rows else None,
            "reward": sum(rewards) / len(rewards) if rewards else None,
            "steps": sum(steps) / len(steps) if steps else None,
            "seconds": sum(seconds) if seconds else None,
            "errors": sum(r.get("outcome") == "error" for r in rows)}


# -- ScreenSpot ---------------------------------------------------------------------------------------
def write_screenspot_report(directory: Path) -> Path:
    """``DIR/report.html`` (accuracy per split) and ``DIR/report/<split>.html`` (every sample, misses first)."""
    records = [r for r in latest(directory) if r.get("outcome") != "skipped" or r.get("image")]
    pages = directory / "report"
    (pages / "thumbs").mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        splits.setdefault(str(record.get("split") or "all"), []).append(record)
    index = []
    for split, rows in splits.items():
        samples = [_sample_view(r, pages / "thumbs") for r in rows]
        samples.sort(key=lambda s: (s["correctness"] == "correct", s["id"]))  # misses first
        name = _slug(split) + ".html"
        html = render("screenspot.html", title=f"ScreenSpot {split}", split=split, samples=samples,
                      platforms=sorted({s["platform"] for s in samples}), types=sorted({s["ui_type"] for s in samples}))
        (pages / name).write_text(html, "utf-8")
        index.append(_split_summary(split, rows, f"report/{name}"))
    out = directory / REPORT
    out.write_text(render("screenspot_index.html", title=f"ScreenSpot {directory.name}", directory=directory.name,
                          splits=index, total=_split_summary("all", records, None)), "utf-8")
    return out


def _sample_view(record: dict[str, Any], thumbs: Path) -> dict[str, Any]:
    correctness = record.get("correctness") or record.get("outcome") or "error"
    view = {"id": str(record.get("task") or record.get("id")), "instruction": record.get("instruction", ""),
            "platform": record.get("platform") or "", "ui_type": record.get("ui_type") or "",
            "correctness": correctness, "answer": record.get("answer") or record.get("reason") or "",
            "box": record.get("box") or record.get("bbox"), "point": record.get("point"), "thumb": None}
    image = Path(str(record.get("image") or ""))
    if image.is_file():
        name = _slug(view["id"]) + ".jpg"
        with contextlib.suppress(OSError, ValueError):
            thumbnail(image, view["box"], view["point"]).save(thumbs / name, quality=85)
            view["thumb"] = f"thumbs/{name}"
    return view


def thumbnail(path: Path, box: list[float] | None, point: list[float] | None, width: int = THUMB_WIDTH) -> Image.Image:
    """The sample's screenshot scaled to ``width`` with the target box (green) and the predicted point (red)."""
    with Image.open(path) as image:
        image.load()
        scale = min(1.0, width / image.width)
        out = image.convert("RGB").resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    draw = ImageDraw.Draw(out)
    if box:
        draw.rectangle([v * scale for v in box], outline=BOX_COLOR, width=2)
    if point:
        x, y = point[0] * scale, point[1] * scale
        draw.ellipse([x - 6, y - 6, x + 6, y + 6], outline=POINT_COLOR, width=2)
        draw.line([(x - 9, y), (x + 9, y)], fill=POINT_COLOR)
        draw.line([(x, y - 9), (x, y + 9)], fill=POINT_COLOR)
    return out


def _split_summary(name: str, rows: list[dict[str, Any]], link: str | None) -> dict[str, Any]:
    def accuracy(kind: str | None) -> float | None:
        chosen = [r for r in rows if kind is None or r.get("ui_type") == kind]
        return sum(r.get("correctness") == "correct" for r in chosen) / len(chosen) if chosen else None

    return {"name": name, "link": link, "samples": len(rows), "text": accuracy("text"), "icon": accuracy("icon"),
            "all": accuracy(None), "wrong_format": sum(r.get("correctness") == "wrong_format" for r in rows),
            "misses": sum(r.get("correctness") != "correct" for r in rows)}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "_"
