"""Pure functions from model text to tool calls, boxes and points (reference §4).

Everything here either returns a value or raises `ParseError` with a reason the model can act on;
no other exception escapes, whatever the input (fuzzed with hypothesis in the tests). Model text is
only ever read as data: JSON, then JSON5 for the forgiving cases, never evaluated.

An answer cut off by the token limit never becomes an action it did not spell out (`agent.scan`): a
value the text stops inside is a `CutOffAnswer`. ``cut_off=True`` (the backend reported
``finish_reason == "length"``) goes further: nothing is closed for the model, only calls it closed
itself are read, and a bare ``(x, y)`` at the very end may be the first corner of a box, so it is not
read either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent.errors import CutOffAnswer, ParseError
from agent.scan import scan, tail

_CLOSE_TAG = "</tool_call>"
_CLOSE_LOOKALIKES = ("⚗", "📐")  # seen in place of </tool_call> (Qwen3-VL#870)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?=</tool_call>|<tool_call>|\Z)", re.S)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|\Z)", re.S)
_POINTS_TAG = re.compile(r"<points?\b([^<>]*)>(.*?)(?:</points?>|(?=<points?\b)|\Z)", re.S)
_NUM = r"(-?\d+(?:\.\d+)?)"
# an attribute value counts once it has ended: a closing quote, or a space / > / after a bare number
_ATTR = re.compile(rf"""\b([xy])(\d*)\s*=\s*(?:"{_NUM}"|'{_NUM}'|{_NUM}(?=[\s>/]))""")
_PAIR = rf"\(\s*{_NUM}\s*,\s*{_NUM}\s*\)"
_BARE_PAIR = re.compile(rf"[\[(]\s*{_NUM}\s*,\s*{_NUM}\s*[\])]")
_BARE_BOX = re.compile(rf"{_PAIR}\s*,\s*{_PAIR}")  # Qwen2-VL box tokens after a server skipped special tokens
_BOX_START, _BOX_END = "<|box_start|>", "<|box_end|>"
_REF_START, _REF_END = "<|object_ref_start|>", "<|object_ref_end|>"
_CALL_START = re.compile(r"""\{\s*["']?(?:name|action|function)\b""")
_MAX_TEXT = 200_000  # characters: far beyond any GUI answer; with the scan budget, bounds the work on untrusted text
_CUT = "your answer was cut off inside a value ({tail}), so it cannot be used; answer again with {what}"
_ONE_CALL = "one short, complete tool call"


@dataclass(frozen=True)
class ToolCall:
    """One ``{"name": ..., "arguments": {...}}``; ``name`` is None for a bare arguments object."""

    name: str | None
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ModelBox:
    """A ``bbox_2d`` (or a Qwen2-VL box-token pair) in the pixels of the image the model saw."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str = ""

    @property
    def center(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2

    @classmethod
    def of(cls, x1: float, y1: float, x2: float, y2: float, label: str = "") -> ModelBox:
        """Corners in either order."""
        return cls(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2), label)


# -- tool calls --------------------------------------------------------------------------------------
def parse_tool_calls(text: str, *, cut_off: bool = False) -> list[ToolCall]:
    """Every complete tool call in ``text``, in order. Raises `ParseError` when there is none.

    ``cut_off``: the backend stopped at the token limit; only objects the model closed itself count.
    """
    calls, cut = _calls(_check_text(text), cut_off)
    if calls:
        return calls
    if cut:
        raise _cut(cut, _ONE_CALL)
    if cut_off:
        raise CutOffAnswer(f"your answer reached the token limit before it held a complete tool call; answer again "
                           f"with {_ONE_CALL}, and keep any text before it short")
    if "<tool_call>" in text:
        raise ParseError(
            "the <tool_call> block holds no JSON object like "
            '{"name": "<function-name>", "arguments": {"action": ...}}'
        )
    raise ParseError(
        "no tool call found; answer with <tool_call>\n"
        '{"name": "<function-name>", "arguments": {"action": ...}}\n</tool_call>'
    )


def _calls(text: str, cut_off: bool) -> tuple[list[ToolCall], str]:
    """The complete calls, and the tail of a call the text stops inside."""
    for mark in _CLOSE_LOOKALIKES:
        text = text.replace(mark, _CLOSE_TAG)
    segments = _TOOL_CALL.findall(text) if "<tool_call>" in text else [text]
    calls: list[ToolCall] = []
    cut = ""
    for segment in segments:
        found = scan(_unfence(segment), close=None if cut_off else _closable_call)
        calls += [call for obj in found.values if (call := _as_call(obj))]
        cut = cut or found.cut
    return calls, cut


def _closable_call(obj: Any) -> bool:
    """A call missing only its own closing brace: its arguments are complete, so nothing is invented."""
    return isinstance(obj, dict) and "name" in obj and isinstance(obj.get("arguments"), (dict, str))


def _as_call(obj: Any) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI-style {"function": {"name", "arguments"}}
        obj = obj["function"]
    if "name" in obj and ("arguments" in obj or "parameters" in obj):
        arguments = obj.get("arguments", obj.get("parameters"))
        if isinstance(arguments, str):  # "arguments" given as a JSON string (read as it is, never repaired)
            arguments = next(iter(scan(arguments).values), arguments)
        if not isinstance(arguments, dict):
            arguments = {"_invalid": arguments}
        return ToolCall(str(obj["name"]), arguments)
    if "action" in obj:  # a bare arguments object
        return ToolCall(None, obj)
    return None


# -- grounding ---------------------------------------------------------------------------------------
def parse_boxes(text: str) -> list[ModelBox]:
    """Every box in the answer: ``bbox_2d`` (or ``bbox``) JSON, or Qwen2-VL box tokens.

    Complete items of a truncated list are kept; a cut item is dropped. Box tokens
    ``<|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`` are read as
    absolute pixels of the resized image, like ``bbox_2d`` (Qwen2-VL used 0-1000 there; the Qwen2.5-VL
    answers seen in public reports carry values above 1000). A malformed one is a `ParseError`.
    """
    text = _check_text(text)
    if _BOX_START in text or _REF_START in text:
        return _box_tokens(text)
    boxes = []
    found = scan(_unfence(text), lists=True)
    for obj in found.values:
        for item in _flatten(obj):
            box = item.get("bbox_2d", item.get("bbox")) if isinstance(item, dict) else None
            if _numbers(box, 4):
                label = item.get("label", item.get("text", ""))
                boxes.append(ModelBox.of(*(float(v) for v in box), str(label)))
    if not boxes and (match := _BARE_BOX.search(text)):
        boxes.append(ModelBox.of(*(float(v) for v in match.groups())))
    if boxes:
        return boxes
    if found.cut:
        raise _cut(found.cut, 'complete boxes: [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}]')
    raise ParseError('no box found; answer with [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}]')


def _box_tokens(text: str) -> list[ModelBox]:
    """Every ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>``, labelled by the object_ref just before it."""
    if _BOX_START not in text:  # an object named, and no box for it
        where = text[text.index(_REF_START):]
        if _REF_END in where and where.split(_REF_END, 1)[1].strip():
            raise ParseError(f"the answer names an object ({tail(where)}) but gives no "
                             f"{_BOX_START}(x1,y1),(x2,y2){_BOX_END} for it")
        raise _cut(where, f"a complete box: {_BOX_START}(x1,y1),(x2,y2){_BOX_END}")
    boxes = []
    pieces = text.split(_BOX_START)
    for before, piece in zip(pieces, pieces[1:]):
        if _BOX_END not in piece:
            body = piece.split("<|", 1)[0]
            if "<|" in piece or _full_box(body):  # something else follows, or two points and no end token
                raise ParseError(f"the box {_BOX_START}{tail(body)} has no {_BOX_END}; write "
                                 f"{_BOX_START}(x1,y1),(x2,y2){_BOX_END}")
            raise _cut(_BOX_START + piece, f"a complete box: {_BOX_START}(x1,y1),(x2,y2){_BOX_END}")
        body = piece.split(_BOX_END, 1)[0]
        corners = _full_box(body)
        if corners is None:
            raise ParseError(f"the box {_BOX_START}{tail(body)}{_BOX_END} must hold exactly two points, "
                             f"{_BOX_START}(x1,y1),(x2,y2){_BOX_END}")
        boxes.append(ModelBox.of(*corners, _label(before)))
    return boxes


def _label(before: str) -> str:
    """The object_ref right before a box token (only space between them), else ""."""
    start = before.rfind(_REF_START)
    if start < 0:
        return ""
    label, _, after = before[start + len(_REF_START):].partition(_REF_END)
    return label.strip() if not after.strip() else ""


def _full_box(body: str) -> tuple[float, float, float, float] | None:
    match = _BARE_BOX.fullmatch(body.strip())
    return tuple(float(v) for v in match.groups()) if match else None  # type: ignore[return-value]


def parse_points(text: str) -> list[tuple[float, float, str]]:
    """Points from ``<points x1=".." y1=".." alt="..">phrase</points>`` tags or ``point_2d`` JSON."""
    text = _check_text(text)
    points: list[tuple[float, float, str]] = []
    for attrs, phrase in _POINTS_TAG.findall(text):
        coords: dict[str, dict[str, float]] = {}
        for axis, index, *values in _ATTR.findall(attrs + ">"):  # the tag did end: ">" was matched
            coords.setdefault(index, {})[axis] = float(next(v for v in values if v))
        alt = re.search(r'alt\s*=\s*"([^"]*)"', attrs)
        label = phrase.strip() or (alt.group(1) if alt else "")
        points += [(c["x"], c["y"], label) for _, c in sorted(coords.items()) if "x" in c and "y" in c]
    found = scan(_unfence(text), lists=True)
    for obj in found.values:
        for item in _flatten(obj):
            if isinstance(item, dict) and _numbers(item.get("point_2d"), 2):
                x, y = item["point_2d"]
                points.append((float(x), float(y), str(item.get("label", ""))))
    if points:
        return points
    opened = max(text.rfind("<point "), text.rfind("<points"))
    if cut := (text[opened:] if opened >= 0 and ">" not in text[opened:] else "") or found.cut:
        raise _cut(cut, 'complete points: <points x1="..." y1="...">...</points>')
    raise ParseError('no point found; answer with <points x1="..." y1="...">...</points> or "point_2d"')


def parse_point(text: str, *, cut_off: bool = False) -> tuple[float, float]:
    """The one point a grounding answer names, in model space.

    In order of preference: a tool call's ``coordinate``, a box's centre (``bbox_2d`` or box tokens), a
    ``point_2d`` / ``<points>``, then a bare ``(x1,y1),(x2,y2)`` box's centre or a bare ``(x, y)`` /
    ``[x, y]`` pair. An answer cut off inside any of them is a `CutOffAnswer`, never a nearby reading.
    """
    text = _check_text(text)
    calls, cut = _calls(text, cut_off)
    for call in calls:
        if _numbers(call.arguments.get("coordinate"), 2):
            return tuple(float(v) for v in call.arguments["coordinate"])  # type: ignore[return-value]
    if cut and not calls and ("<tool_call>" in text or _CALL_START.match(cut)):
        raise _cut(cut, "a complete tool call whose coordinate is [x, y]")
    if _BOX_START in text or _REF_START in text:
        return _box_tokens(text)[0].center
    for parse in (lambda t: [b.center for b in parse_boxes(t)], lambda t: [p[:2] for p in parse_points(t)]):
        try:
            return parse(text)[0]
        except CutOffAnswer:
            raise
        except ParseError:
            pass
    if match := _BARE_PAIR.search(text):
        rest = text[match.end():]
        if re.fullmatch(r"\s*,\s*(\(\s*[-\d.]*\s*,?\s*[-\d.]*\s*)?", rest) or cut_off and not rest.strip():
            raise _cut(text[match.start():], "a complete point (x, y) or box (x1,y1),(x2,y2)")
        return float(match.group(1)), float(match.group(2))
    raise ParseError("no point found; answer with a tool call whose coordinate is [x, y]")


# -- shared helpers ----------------------------------------------------------------------------------
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


def _cut(fragment: str, what: str) -> CutOffAnswer:
    return CutOffAnswer(_CUT.format(tail=f"it ends with `{tail(fragment)}`", what=what))


def _flatten(value: Any, depth: int = 3) -> list[Any]:
    """The items of a list of lists (boxes come at most three lists deep; deeper nesting is not read)."""
    if isinstance(value, list):
        return [item for v in value for item in _flatten(v, depth - 1)] if depth > 0 else []
    return [value]


def _numbers(value: Any, n: int) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == n
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v for v in value)
    )
