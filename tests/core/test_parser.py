"""The parser: a table of real-world answers, and fuzzing that only ParseError ever escapes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import ParseError
from agent.parser import Box, ToolCall, parse_boxes, parse_point, parse_points, parse_tool_calls

CLICK = {"action": "left_click", "coordinate": [10, 20]}
CALL = ToolCall("computer_use", CLICK)
BODY = '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 20]}}'

TOOL_CALL_TABLE = [
    ("canonical", f"<tool_call>\n{BODY}\n</tool_call>", [CALL]),
    ("alembic close", f"<tool_call>\n{BODY}⚗", [CALL]),
    ("ruler close", f"<tool_call>\n{BODY}\n📐", [CALL]),
    ("no close tag", f"<tool_call>\n{BODY}", [CALL]),
    ("truncated object", f"<tool_call>\n{BODY[:-1]}", [CALL]),
    ("fenced json", f"Here you go:\n```json\n{BODY}\n```", [CALL]),
    ("fence inside tags", f"<tool_call>\n```json\n{BODY}\n```\n</tool_call>", [CALL]),
    ("trailing commas", '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 20,],},}</tool_call>', [CALL]),
    ("single quotes", "<tool_call>{'name': 'computer_use', 'arguments': {'action': 'left_click', 'coordinate': [10, 20]}}</tool_call>", [CALL]),
    ("prose around", f"I will click the button.\n<tool_call>\n{BODY}\n</tool_call>\nThis should open it.", [CALL]),
    ("arguments as string", '<tool_call>{"name": "computer_use", "arguments": "{\\"action\\": \\"left_click\\", \\"coordinate\\": [10, 20]}"}</tool_call>', [CALL]),
    ("several calls", f"<tool_call>{BODY}</tool_call>\n<tool_call>" + '{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}</tool_call>',
     [CALL, ToolCall("computer_use", {"action": "wait", "time": 1})]),
    ("two calls in one block", f"<tool_call>\n{BODY}\n{BODY}\n</tool_call>", [CALL, CALL]),
    ("bare arguments", '{"action": "left_click", "coordinate": [10, 20]}', [ToolCall(None, CLICK)]),
    ("braces inside strings", '<tool_call>{"name": "computer_use", "arguments": {"action": "type", "text": "a}{b\\"c"}}</tool_call>',
     [ToolCall("computer_use", {"action": "type", "text": 'a}{b"c'})]),
    ("unicode text", '<tool_call>{"name": "mobile_use", "arguments": {"action": "type", "text": "Zoë 東京 🚀"}}</tool_call>',
     [ToolCall("mobile_use", {"action": "type", "text": "Zoë 東京 🚀"})]),
    ("reasoning wrapper", f"<thinking>The button is top left.</thinking>\n<tool_call>\n{BODY}\n</tool_call>\n<conclusion>Clicked.</conclusion>", [CALL]),
    ("openai function shape", '<tool_call>{"function": {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 20]}}}</tool_call>', [CALL]),
]


@pytest.mark.parametrize(("name", "text", "expected"), TOOL_CALL_TABLE, ids=[t[0] for t in TOOL_CALL_TABLE])
def test_tool_call_table(name: str, text: str, expected: list[ToolCall]) -> None:
    assert parse_tool_calls(text) == expected


@pytest.mark.parametrize("text", ["", "I cannot help with that.", "<tool_call></tool_call>", "<tool_call>\n{\"name\": ", "[1, 2, 3]", "{}"])
def test_no_tool_call_is_a_parse_error_with_a_reason(text: str) -> None:
    with pytest.raises(ParseError, match="tool call|JSON object"):
        parse_tool_calls(text)


def test_non_text_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_tool_calls(None)  # type: ignore[arg-type]


BOXES = [
    ("fenced list", '```json\n[{"bbox_2d": [10, 20, 30, 40], "label": "ok"}]\n```', [Box(10, 20, 30, 40, "ok")]),
    ("truncated list keeps complete items",
     '```json\n[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7, 8], "label": "b"}, {"bbox_2d": [9, 10,',
     [Box(1, 2, 3, 4, "a"), Box(5, 6, 7, 8, "b")]),
    ("single object", '{"bbox_2d": [30, 40, 10, 20], "label": "swapped"}', [Box(10, 20, 30, 40, "swapped")]),
    ("prose then list", 'The objects are: [{"bbox_2d": [0, 0, 5, 5], "label": "x"}] done.', [Box(0, 0, 5, 5, "x")]),
]


@pytest.mark.parametrize(("name", "text", "expected"), BOXES, ids=[b[0] for b in BOXES])
def test_boxes_table(name: str, text: str, expected: list[Box]) -> None:
    assert parse_boxes(text) == expected


def test_points_tag_and_point_2d() -> None:
    assert parse_points('<points x1="10" y1="20" x2="30.5" y2="40" alt="two buttons">buttons</points>') == [
        (10.0, 20.0, "buttons"), (30.5, 40.0, "buttons")]
    assert parse_points('[{"point_2d": [7, 8], "label": "dot"}]') == [(7.0, 8.0, "dot")]


POINTS = [
    (f"<tool_call>\n{BODY}\n</tool_call>", (10.0, 20.0)),
    ('```json\n[{"bbox_2d": [10, 20, 30, 40], "label": "ok"}]\n```', (20.0, 30.0)),
    ('<points x1="3" y1="4" alt="a">a</points>', (3.0, 4.0)),
    ("The element is at (120, 45).", (120.0, 45.0)),
    ("[12.5, 7]", (12.5, 7.0)),
    # the prefilled ScreenSpot answer: prefill + continuation
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [' + "640, 360]}}\n</tool_call>", (640.0, 360.0)),
]


@pytest.mark.parametrize(("text", "expected"), POINTS)
def test_point_table(text: str, expected: tuple[float, float]) -> None:
    assert parse_point(text) == expected


@pytest.mark.parametrize("text", ["no idea", "<tool_call>\n{\"name\": \"computer_use\", \"arguments\": {\"action\": \"left_click\", \"coordinate\": [", "(1, )"])
def test_point_wrong_format(text: str) -> None:
    with pytest.raises(ParseError):
        parse_point(text)


_FRAGMENTS = st.sampled_from(["<tool_call>", "</tool_call>", "⚗", "📐", "```json", "```", "{", "}", "[", "]", '"', "'", ",",
                              ":", "\\", "name", "arguments", "action", "bbox_2d", "<points x1=\"", "1e999", "NaN", "\n"])
_TEXT = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_fuzz_only_parse_errors_escape(text: str) -> None:
    for parse in (parse_tool_calls, parse_boxes, parse_points, parse_point):
        with contextlib.suppress(ParseError):
            parse(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 4000), st.integers(0, 4000), st.text(max_size=20))
def test_fuzz_roundtrip_of_well_formed_calls(x: int, y: int, prose: str) -> None:
    prose = prose.replace("{", "").replace("[", "").replace("<", "").replace("(", "")
    text = f'{prose}<tool_call>\n{{"name": "computer_use", "arguments": {{"action": "left_click", "coordinate": [{x}, {y}]}}}}\n</tool_call>'
    assert parse_tool_calls(text)[0].arguments["coordinate"] == [x, y]
    assert parse_point(text) == (x, y)


def test_deep_nesting_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(ParseError):
        parse_tool_calls("<tool_call>" + "[" * 5000 + "]" * 5000 + "</tool_call>")
