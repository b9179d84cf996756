"""The standard ScreenSpot splits: platform × text/icon (v1/v2); group, application, text/icon (Pro)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.table import Table

PLATFORM_ORDER = ("mobile", "desktop", "web")
GROUP_ORDER = ("Dev", "Creative", "CAD", "Scientific", "Office", "OS")


def cell(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy of ``records`` the way the official scripts count it: wrong_format counts as wrong."""
    correct = sum(r.get("correctness") == "correct" for r in records)
    return {
        "correct": correct,
        "total": len(records),
        "accuracy": correct / len(records) if records else None,
        "wrong_format": sum(r.get("correctness") == "wrong_format" for r in records),
    }


def by_type(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        "text": cell([r for r in records if r.get("ui_type") == "text"]),
        "icon": cell([r for r in records if r.get("ui_type") == "icon"]),
        "all": cell(records),
    }


def breakdown(records: Sequence[dict[str, Any]], key: str, order: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """``{value of key: {text, icon, all}}`` with the known values first, in the papers' order."""
    values = list(dict.fromkeys(str(r.get(key) or "") for r in records))
    ordered = [v for v in order if v in values] + sorted(v for v in values if v not in order)
    return {v: by_type([r for r in records if str(r.get(key) or "") == v]) for v in ordered}


def summarise(records: Sequence[dict[str, Any]], format: str, *, problems: Sequence[str] = (),
              settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything ``summary.json`` holds: the splits, counts of what was not scored and why."""
    scored = [r for r in records if r.get("correctness")]
    summary: dict[str, Any] = {
        "format": format,
        "settings": settings or {},
        "samples": len(records),
        "scored": len(scored),
        "overall": by_type(scored),
    }
    if format == "pro":
        summary["group"] = breakdown(scored, "group", GROUP_ORDER)
        summary["application"] = breakdown(scored, "application")
    else:
        summary["platform"] = breakdown(scored, "platform", PLATFORM_ORDER)
        summary["source"] = breakdown(scored, "source")  # data_source: ios, windows, gitlab, ... or your screens
    summary["errors"] = [{"id": r["task"], "reason": r.get("reason", "")} for r in records if r.get("outcome") == "error"]
    summary["skipped"] = [{"id": r["task"], "reason": r.get("reason", "")} for r in records if r.get("outcome") == "skipped"]
    summary["invalid_samples"] = list(problems)
    return summary


def tables(summary: dict[str, Any]) -> list[Table]:
    """The tables to print: one per standard split, each with an 'all' row."""
    sections = [("group", "Pro by group"), ("application", "Pro by application")] if summary["format"] == "pro" \
        else [("source", f"ScreenSpot {summary['format']} by data source"),
              ("platform", f"ScreenSpot {summary['format']} by platform")]
    result = []
    for key, title in sections:
        rows = dict(summary[key])
        rows["all"] = summary["overall"]
        result.append(_table(rows, title, key))
    return result


def _table(rows: dict[str, dict[str, Any]], title: str, label: str) -> Table:
    table = Table(title=title)
    table.add_column(label)
    for column in ("text", "icon", "avg", "samples", "wrong format"):
        table.add_column(column, justify="right")
    for name, split in rows.items():
        table.add_row(
            name, _pct(split["text"]), _pct(split["icon"]), _pct(split["all"]), str(split["all"]["total"]),
            str(split["all"]["wrong_format"]), style="bold" if name == "all" else None,
        )
    return table


def _pct(c: dict[str, Any]) -> str:
    return "-" if c["accuracy"] is None else f"{100 * c['accuracy']:.1f}"
