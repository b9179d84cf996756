"""Pure functions from model text to tool calls, boxes and points (reference §4).

Everything here either returns a value or raises `ParseError` with a reason the model can act on;
no other exception escapes, whatever the input (fuzzed with hypothesis in the tests). Model text is
only ever read as data: JSON, then JSON5 for the forgiving cases, never evaluated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import json5

from agent.errors import ParseError

_CLOSE_TAG = "</tool_call>"
_CLOSE_LOOKALIKES = ("⚗", "📐")  # seen in place of </tool_call> (Qwen3-VL#870)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?=</tool_call>|<tool_call>|\Z)", re.S)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|\Z)", re.S)
_POINTS_TAG = re.compile(r"<points?\b([^>]*)>(.*?)(?:</points?>|\Z)", re.S)
_ATTR = re.compile(r"""\b([xy])(\d*)\s*=\s*["']?(-?\d+(?:\.\d+)?)""")
_BARE_PAIR = re.compile(r"[\[(]\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*[\])]")
_MAX_TEXT = 200_000


@dataclass(frozen=True)
class ToolCall:
    """One ``{"name": ..., "arguments": {...}}``; ``name`` is None for a bare arguments object."""

    name: str | None
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Box:
    """A ``bbox_2d`` in the pixels of the image the model saw."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str = ""

    @property
    def center(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2


# -- tool calls --------------------------------------------------------------------------------------
def parse_tool_calls(text: str) -> list[ToolCall]:
    """Every tool call in ``text``, in order. Raises `ParseError` when there is none."""
    text = _check_text(text)
    for mark in _CLOSE_LOOKALIKES:
        text = text.replace(mark, _CLOSE_TAG)
    segments = _TOOL_CALL.findall(text) if "<tool_call>" in text else [text]
    calls = [call for segment in segments for obj in _objects(_unfence(segment)) if (call := _as_call(obj))]
    if not calls:
        if "<tool_call>" in text:
            raise ParseError(
                "the <tool_call> block holds no JSON object like "
                '{"name": "<function-name>", "arguments": {"action": ...}}'
            )
        raise ParseError(
            "no tool call found; answer with <tool_call>\n"
            '{"name": "<function-name>", "arguments": {"action": ...}}\n</tool_call>'
        )
    return calls


def _as_call(obj: Any) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI-style {"function": {"name", "arguments"}}
        obj = obj["function"]
    if "name" in obj and ("arguments" in obj or "parameters" in obj):
        arguments = obj.get("arguments", obj.get("parameters"))
        if isinstance(arguments, str):  # "arguments" given as a JSON string
            arguments = next(iter(_objects(arguments)), arguments)
        if not isinstance(arguments, dict):
            arguments = {"_invalid": arguments}
        return ToolCall(str(obj["name"]), arguments)
    if "action" in obj:  # a bare arguments object
        return ToolCall(None, obj)
    return None


# -- grounding ---------------------------------------------------------------------------------------
def parse_boxes(text: str) -> list[Box]:
    """Every ``bbox_2d`` (or ``bbox``) in a JSON answer; complete items of a truncated list are kept."""
    text = _check_text(text)
    boxes = []
    for obj in _objects(_unfence(text), lists=True, repair=False):
        for item in _flatten(obj):
            box = item.get("bbox_2d", item.get("bbox")) if isinstance(item, dict) else None
            if _numbers(box, 4):
                x1, y1, x2, y2 = (float(v) for v in box)
                label = item.get("label", item.get("text", ""))
                boxes.append(Box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2), str(label)))
    if not boxes:
        raise ParseError('no box found; answer with [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}]')
    return boxes


def parse_points(text: str) -> list[tuple[float, float, str]]:
    """Points from ``<points x1=".." y1=".." alt="..">phrase</points>`` tags or ``point_2d`` JSON."""
    text = _check_text(text)
    points: list[tuple[float, float, str]] = []
    for attrs, phrase in _POINTS_TAG.findall(text):
        coords: dict[str, dict[str, float]] = {}
        for axis, index, value in _ATTR.findall(attrs):
            coords.setdefault(index, {})[axis] = float(value)
        alt = re.search(r'alt\s*=\s*"([^"]*)"', attrs)
        label = phrase.strip() or (alt.group(1) if alt else "")
        points += [(c["x"], c["y"], label) for _, c in sorted(coords.items()) if "x" in c and "y" in c]
    for obj in _objects(_unfence(text), lists=True, repair=False):
        for item in _flatten(obj):
            if isinstance(item, dict) and _numbers(item.get("point_2d"), 2):
                x, y = item["point_2d"]
                points.append((float(x), float(y), str(item.get("label", ""))))
    if not points:
        raise ParseError('no point found; answer with <points x1="..." y1="...">...</points> or "point_2d"')
    return points


def parse_point(text: str) -> tuple[float, float]:
    """The one point a grounding answer names, in model space.

    In order of preference: a tool call's ``coordinate``, a box's centre, a ``point_2d`` / ``<points>``,
    then a bare ``(x, y)`` or ``[x, y]`` pair.
    """
    text = _check_text(text)
    try:
        for call in parse_tool_calls(text):
            if _numbers(call.arguments.get("coordinate"), 2):
                return tuple(float(v) for v in call.arguments["coordinate"])  # type: ignore[return-value]
    except ParseError:
        pass
    for parse in (lambda t: [b.center for b in parse_boxes(t)], lambda t: [p[:2] for p in parse_points(t)]):
        try:
            return parse(text)[0]
        except ParseError:
            pass
    if match := _BARE_PAIR.search(text):
        return float(match.group(1)), float(match.group(2))
    raise ParseError("no point found; answer with a tool call whose coordinate is [x, y]")


# -- shared scanning ---------------------------------------------------------------------------------
def _check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise ParseError(f"the answer is {len(text)} characters long; answer with one short tool call")
    return text


def _unfence(text: str) -> str:
    """The inside of code fences when there are any (```json ... ```), else the text itself."""
    blocks = _FENCE.findall(text)
    return "\n".join(blocks) if blocks else text


def _objects(text: str, *, lists: bool = False, repair: bool = True) -> list[Any]:
    """The top-level JSON values (objects, and lists if asked) embedded in ``text``, in order."""
    found, i = [], 0
    openers = "{[" if lists else "{"
    while i < len(text):
        if text[i] not in openers:
            i += 1
            continue
        end, closers = _match(text, i)
        if end is None:
            # Truncated: a list keeps its complete items; an object is closed if we may repair it.
            if text[i] == "[":
                found += [v for v in _objects(text[i + 1 :], repair=False) if v is not None]
                break
            value = _load(text[i:] + closers) if repair else None
            if value is not None:
                found.append(value)
                break  # everything after the opener lies inside the value just repaired
            i += 1
            continue
        value = _load(text[i : end + 1])
        if value is not None:
            found.append(value)
            i = end + 1
        else:
            i += 1
    return found


def _match(text: str, start: int) -> tuple[int | None, str]:
    """Index of the bracket closing ``text[start]``, or None and the closers a truncation needs."""
    stack: list[str] = []
    quote = ""
    i = start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "{[":
            stack.append("}" if c == "{" else "]")
        elif c in "}]":
            if not stack or stack.pop() != c:
                return None, ""
            if not stack:
                return i, ""
        i += 1
    return None, (quote + "".join(reversed(stack))) if stack else ""


def _load(fragment: str) -> Any:
    """JSON, else JSON5 (single quotes, trailing commas, unquoted keys); None when neither reads it."""
    for loads in (json.loads, json5.loads):
        try:
            return loads(fragment)
        except Exception:  # noqa: BLE001 - any failure to read model text is "not JSON"
            continue
    return None


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [item for v in value for item in _flatten(v)]
    return [value]


def _numbers(value: Any, n: int) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == n
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v for v in value)
    )
