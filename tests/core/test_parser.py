"""The parser: a table of real-world answers, and fuzzing that only ParseError ever escapes."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agent.errors import CutOffAnswer, ParseError
from agent.parser import ModelBox, ToolCall, parse_boxes, parse_point, parse_points, parse_tool_calls

CLICK = {"action": "left_click", "coordinate": [10, 20]}
CALL = ToolCall("computer_use", CLICK)
BODY = '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 20]}}'

TOOL_CALL_TABLE = [
    ("canonical", f"<tool_call>\n{BODY}\n</tool_call>", [CALL]),
    ("alembic close", f"<tool_call>\n{BODY}⚗", [CALL]),
    ("ruler close", f"<tool_call>\n{BODY}\n📐", [CALL]),
    ("no close tag", f"<tool_call>\n{BODY}", [CALL]),
    ("call missing only its own brace", f"<tool_call>\n{BODY[:-1]}", [CALL]),
    ("call missing its brace, trailing comma", f"<tool_call>\n{BODY[:-1]}, ", [CALL]),
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
    ("fenced list", '```json\n[{"bbox_2d": [10, 20, 30, 40], "label": "ok"}]\n```', [ModelBox(10, 20, 30, 40, "ok")]),
    ("truncated list keeps complete items",
     '```json\n[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7, 8], "label": "b"}, {"bbox_2d": [9, 10,',
     [ModelBox(1, 2, 3, 4, "a"), ModelBox(5, 6, 7, 8, "b")]),
    ("single object", '{"bbox_2d": [30, 40, 10, 20], "label": "swapped"}', [ModelBox(10, 20, 30, 40, "swapped")]),
    ("prose then list", 'The objects are: [{"bbox_2d": [0, 0, 5, 5], "label": "x"}] done.', [ModelBox(0, 0, 5, 5, "x")]),
]


@pytest.mark.parametrize(("name", "text", "expected"), BOXES, ids=[b[0] for b in BOXES])
def test_boxes_table(name: str, text: str, expected: list[ModelBox]) -> None:
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


CUT = CutOffAnswer
PREFIX = '<tool_call>\n{"name": "computer_use", "arguments": '
TRUNCATED = [
    # (name, text, cut_off: the backend said finish_reason == "length", expected calls or the error)
    ("inside a number", PREFIX + '{"action": "left_click", "coordinate": [935, 40', False, CUT),
    ("after a number, list open", PREFIX + '{"action": "left_click", "coordinate": [935, 405', False, CUT),
    ("after a comma in the list", PREFIX + '{"action": "left_click", "coordinate": [935, ', False, CUT),
    ("inside the typed text", PREFIX + '{"action": "type", "text": "Hello wor', False, CUT),
    ("inside a key", PREFIX + '{"action": "type", "te', False, CUT),
    ("after a key", PREFIX + '{"action": "type", "text"', False, CUT),
    ("after a colon", PREFIX + '{"action": "type", "text": ', False, CUT),
    ("arguments open after a complete value", PREFIX + '{"action": "left_click"', False, CUT),  # not a click at the cursor
    ("arguments open after a complete list", PREFIX + '{"action": "left_click", "coordinate": [935, 405]', False, CUT),
    ("bare arguments open", '{"action": "left_click", "coordinate": [1, 2]', False, CUT),
    ("only the name", '<tool_call>\n{"name": "computer_use"', False, CUT),
    ("after the arguments key", '<tool_call>\n{"name": "computer_use", "arguments":', False, CUT),
    ("inside a literal", PREFIX + '{"action": "terminate", "status": "success", "x": tr', False, CUT),
    ("a call inside a cut string is not read",
     PREFIX + '{"action": "type", "text": "{\'action\': \'left_click\', \'coordinate\': [5, 5]} and', False, CUT),
    ("inside an escape", PREFIX + '{"action": "type", "text": "say \\', False, CUT),
    ("call missing only its brace", f"<tool_call>\n{BODY[:-1]}", False, [CALL]),
    ("call missing its brace, token limit", f"<tool_call>\n{BODY[:-1]}", True, CUT),
    ("complete call, no close tag, token limit", f"<tool_call>\n{BODY}\n", True, [CALL]),
    ("complete call then a cut one", f"<tool_call>\n{BODY}\n</tool_call>\n" + PREFIX + '{"action": "wa', False, [CALL]),
    ("complete call then a cut one, token limit", f"<tool_call>\n{BODY}\n</tool_call>\n" + PREFIX + '{"a', True, [CALL]),
    ("a conclusion cut at the token limit", f"<tool_call>\n{BODY}\n</tool_call>\n<conclusion>I clicked the", True, [CALL]),
]


@pytest.mark.parametrize(("name", "text", "cut_off", "expected"), TRUNCATED, ids=[t[0] for t in TRUNCATED])
def test_a_cut_off_answer_never_becomes_an_action(name: str, text: str, cut_off: bool, expected) -> None:
    if expected is CUT:
        with pytest.raises(CutOffAnswer, match="your answer was cut off inside a value .*it ends with `"):
            parse_tool_calls(text, cut_off=cut_off)
    else:
        assert parse_tool_calls(text, cut_off=cut_off) == expected


def test_reaching_the_token_limit_before_any_call_says_so() -> None:
    with pytest.raises(CutOffAnswer, match="reached the token limit before it held a complete tool call"):
        parse_tool_calls("<thinking>The page shows a long list of settings, and", cut_off=True)
    with pytest.raises(ParseError, match="no tool call found"):  # the same text from a model that stopped by itself
        parse_tool_calls("<thinking>The page shows a long list of settings, and")


TOKEN = "<|object_ref_start|>the sign-in button<|object_ref_end|><|box_start|>(100,200),(300,400)<|box_end|>"
BOX_TOKENS = [
    ("ref and box", TOKEN, [ModelBox(100, 200, 300, 400, "the sign-in button")]),
    ("box only", "<|box_start|>(100,200),(300,400)<|box_end|>", [ModelBox(100, 200, 300, 400)]),
    ("spaces and decimals", "<|box_start|>( 10.5 , 20 ), ( 30 , 40.25 )<|box_end|>", [ModelBox(10.5, 20, 30, 40.25)]),
    ("corners swapped", "<|box_start|>(300,400),(100,200)<|box_end|>", [ModelBox(100, 200, 300, 400)]),
    ("absolute pixels above 1000", "<|box_start|>(1200,50),(1310,90)<|box_end|>", [ModelBox(1200, 50, 1310, 90)]),
    ("two boxes", TOKEN + "<|object_ref_start|>ok<|object_ref_end|><|box_start|>(1,2),(3,4)<|box_end|><|im_end|>",
     [ModelBox(100, 200, 300, 400, "the sign-in button"), ModelBox(1, 2, 3, 4, "ok")]),
    ("prose around", "Sure. " + TOKEN + " That is it.", [ModelBox(100, 200, 300, 400, "the sign-in button")]),
]


@pytest.mark.parametrize(("name", "text", "expected"), BOX_TOKENS, ids=[b[0] for b in BOX_TOKENS])
def test_qwen2vl_box_tokens_are_boxes(name: str, text: str, expected: list[ModelBox]) -> None:
    assert parse_boxes(text) == expected
    assert parse_point(text) == expected[0].center  # the centre, never the first corner


MALFORMED_BOX_TOKENS = [
    ("three points", "<|box_start|>(1,2),(3,4),(5,6)<|box_end|>", ParseError, "exactly two points"),
    ("one point", "<|box_start|>(1,2)<|box_end|>", ParseError, "exactly two points"),
    ("words", "<|box_start|>the button<|box_end|>", ParseError, "exactly two points"),
    ("four numbers as a list", "<|box_start|>[1,2,3,4]<|box_end|>", ParseError, "exactly two points"),
    ("no end token", "<|box_start|>(1,2),(3,4)", ParseError, "has no <\\|box_end\\|>"),
    ("another token before the end", "<|box_start|>(1,2),(3,4)<|im_end|>", ParseError, "has no <\\|box_end\\|>"),
    ("cut inside a number", "<|object_ref_start|>ok<|object_ref_end|><|box_start|>(1,2),(3", CutOffAnswer, "cut off"),
    ("cut after the first point", "<|box_start|>(100,200)", CutOffAnswer, "cut off"),
    ("an object and no box", "<|object_ref_start|>ok<|object_ref_end|> is on the left", ParseError, "gives no"),
    ("cut inside the object's name", "<|object_ref_start|>the (1, 2) but", CutOffAnswer, "cut off"),
    ("cut after the object's name", "<|object_ref_start|>ok<|object_ref_end|>", CutOffAnswer, "cut off"),
    ("second box malformed", TOKEN + "<|box_start|>(1,2),(3,)<|box_end|>", ParseError, "exactly two points"),
]


@pytest.mark.parametrize(("name", "text", "error", "message"), MALFORMED_BOX_TOKENS, ids=[m[0] for m in MALFORMED_BOX_TOKENS])
def test_malformed_box_tokens_are_parse_errors_not_points(name: str, text: str, error: type, message: str) -> None:
    for parse in (parse_boxes, parse_point):
        with pytest.raises(error, match=message):
            parse(text)


CUT_POINTS = [
    # (name, text, cut_off, expected point or the error)
    ("prefilled click cut inside y", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
     '"coordinate": [' + "640, 36", False, CUT),
    ("prefilled click complete", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
     '"coordinate": [' + "640, 360]}}", False, (640.0, 360.0)),
    ("bare pair cut", "The element is at (120, 4", False, ParseError),
    ("points tag cut in a value", '<points x1="12', False, CUT),
    ("points tag cut before >", '<points x1="12" y1="40"', False, CUT),
    ("points tag unquoted", "<points x1=12 y1=40>ok</points>", False, (12.0, 40.0)),
    ("points tag, phrase cut", '<points x1="12" y1="40" alt="ok">the sign', True, (12.0, 40.0)),
    ("bbox list cut inside the first item", '[{"bbox_2d": [10, 20, 30, 40], "label": "a (5, 6)', False, CUT),
    ("bbox list, second item cut", '[{"bbox_2d": [10, 20, 30, 40], "label": "a"}, {"bbox_2d": [5,', False, (20.0, 30.0)),
    ("point_2d cut", '[{"point_2d": [7, 8', False, CUT),
    ("box tokens stripped by the server", "the sign-in button(100,200),(300,400)", False, (200.0, 300.0)),
    ("stripped box cut after the first corner", "the sign-in button(100,200),", False, CUT),
    ("stripped box cut inside the second corner", "the sign-in button(100,200),(30", False, CUT),
    ("a pair at the very end at the token limit", "the sign-in button(100,200)", True, CUT),
    ("a pair at the very end, stopped", "the sign-in button(100,200)", False, (100.0, 200.0)),
    ("a pair then prose at the token limit", "It is at (100,200) on the left and", True, (100.0, 200.0)),
]


@pytest.mark.parametrize(("name", "text", "cut_off", "expected"), CUT_POINTS, ids=[c[0] for c in CUT_POINTS])
def test_cut_grounding_answers(name: str, text: str, cut_off: bool, expected) -> None:
    if isinstance(expected, type):
        with pytest.raises(expected):
            parse_point(text, cut_off=cut_off)
    else:
        assert parse_point(text, cut_off=cut_off) == expected


_FRAGMENTS = st.sampled_from(["<tool_call>", "</tool_call>", "⚗", "📐", "```json", "```", "{", "}", "[", "]", '"', "'", ",",
                              ":", "\\", "name", "arguments", "action", "bbox_2d", "<points x1=\"", "1e999", "NaN", "\n"])
_TEXT = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_fuzz_only_parse_errors_escape(text: str) -> None:
    for parse in (parse_tool_calls, parse_boxes, parse_points, parse_point,
                  lambda t: parse_tool_calls(t, cut_off=True), lambda t: parse_point(t, cut_off=True)):
        with contextlib.suppress(ParseError):
            parse(text)


# -- answers cut off anywhere: a prefix either fails with ParseError or reads what the whole answer says ----
_NUMBER = st.one_of(st.integers(0, 4000), st.floats(0, 4000, allow_nan=False).map(lambda v: round(v, 2)))
_TRICKY = st.lists(st.sampled_from(list("ab {}[]()\"'\\,:<>|0123456789\n") + ["<tool_call>", "</tool_call>", "⚗"]),
                   max_size=20).map("".join)
_ARGUMENTS = st.one_of(
    st.fixed_dictionaries({"action": st.sampled_from(["left_click", "double_click", "mouse_move"]),
                           "coordinate": st.lists(_NUMBER, min_size=2, max_size=2)}),
    st.fixed_dictionaries({"action": st.just("left_click")}),
    st.fixed_dictionaries({"action": st.just("type"), "text": st.one_of(_TRICKY, st.text(max_size=30))}),
    st.fixed_dictionaries({"action": st.just("key"), "keys": st.lists(st.sampled_from(["ctrl", "a", "Return"]), min_size=1, max_size=3)}),
    st.fixed_dictionaries({"action": st.just("scroll"), "pixels": st.integers(-900, 900)}),
    st.fixed_dictionaries({"action": st.just("swipe"), "coordinate": st.lists(_NUMBER, min_size=2, max_size=2),
                           "coordinate2": st.lists(_NUMBER, min_size=2, max_size=2)}),
    st.fixed_dictionaries({"action": st.just("terminate"), "status": st.sampled_from(["success", "failure"])}),
)
_PROSE = st.text(st.sampled_from(list("ab .,:()!\n")), max_size=20)


@st.composite
def _answers(draw) -> str:
    """A well-formed answer as Qwen2.5-VL writes it: optional thinking, one or two calls, optional conclusion."""
    calls = draw(st.lists(st.tuples(st.sampled_from(["computer_use", "mobile_use"]), _ARGUMENTS), min_size=1, max_size=2))
    close = draw(st.sampled_from(["\n</tool_call>", "⚗", "\n📐", "</tool_call>"]))
    indent = draw(st.sampled_from([None, 2]))
    ascii_only = draw(st.booleans())
    body = "".join(
        f"<tool_call>\n{json.dumps({'name': name, 'arguments': args}, indent=indent, ensure_ascii=ascii_only)}{close}\n"
        for name, args in calls)
    thinking = draw(st.one_of(st.just(""), _PROSE.map(lambda t: f"<thinking>{t}</thinking>\n")))
    conclusion = draw(st.one_of(st.just(""), _PROSE.map(lambda t: f"<conclusion>{t}</conclusion>")))
    return thinking + body + conclusion


@settings(max_examples=300, deadline=None)
@given(_answers(), st.data())
def test_fuzz_a_cut_answer_reads_only_what_the_whole_answer_says(answer: str, data) -> None:
    try:
        whole = parse_tool_calls(answer)
    except ParseError:  # typed text holding "</tool_call>" or "⚗" ends the call early: the whole is unreadable too
        assume(False)
    cuts = data.draw(st.lists(st.integers(0, len(answer)), min_size=1, max_size=12))
    for cut in cuts:
        for cut_off in (False, True):
            try:
                calls = parse_tool_calls(answer[:cut], cut_off=cut_off)
            except ParseError:
                continue
            assert calls == whole[: len(calls)], (answer[:cut], cut_off)


@st.composite
def _grounding_answers(draw) -> tuple[str, tuple[float, float], bool]:
    """(answer, the point it names, whether a prefix may read a different point without the stop reason)."""
    x1, y1, x2, y2 = (draw(_NUMBER) for _ in range(4))
    box = ModelBox.of(x1, y1, x2, y2)
    label = draw(st.sampled_from(["ok", "the (1, 2) button", "a]b", ""]))
    forms = [
        ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": ['
         f"{x1}, {y1}]}}}}\n</tool_call>", (float(x1), float(y1)), False),
        (f'```json\n[{{"bbox_2d": [{x1}, {y1}, {x2}, {y2}], "label": {json.dumps(label)}}}, '
         f'{{"bbox_2d": [1, 2, 3, 4], "label": "b"}}]\n```', box.center, False),
        (f"<|object_ref_start|>{label}<|object_ref_end|><|box_start|>({x1},{y1}),({x2},{y2})<|box_end|><|im_end|>",
         box.center, False),
        (f'<points x1="{x1}" y1="{y1}" alt="{label}">{label}</points>', (float(x1), float(y1)), False),
        (f'[{{"point_2d": [{x1}, {y1}], "label": "p"}}]', (float(x1), float(y1)), False),
        (f"It is at ({x1}, {y1}).", (float(x1), float(y1)), False),
        (f"the button({x1},{y1}),({x2},{y2})", box.center, True),  # box tokens a server stripped
    ]
    return draw(st.sampled_from(forms))


@settings(max_examples=300, deadline=None)
@given(_grounding_answers(), st.data())
def test_fuzz_a_cut_grounding_answer_names_the_same_point_or_none(form, data) -> None:
    answer, point, ambiguous = form
    assert parse_point(answer) == pytest.approx(point)
    for cut in data.draw(st.lists(st.integers(0, len(answer)), min_size=1, max_size=12)):
        for cut_off in (True,) if ambiguous else (False, True):
            try:
                got = parse_point(answer[:cut], cut_off=cut_off)
            except ParseError:
                continue
            assert got == pytest.approx(point), (answer[:cut], cut_off)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 4000), st.integers(0, 4000), st.text(max_size=20))
def test_fuzz_roundtrip_of_well_formed_calls(x: int, y: int, prose: str) -> None:
    prose = prose.replace("{", "").replace("[", "").replace("<", "").replace("(", "")
    text = f'{prose}<tool_call>\n{{"name": "computer_use", "arguments": {{"action": "left_click", "coordinate": [{x}, {y}]}}}}\n</tool_call>'
    assert parse_tool_calls(text)[0].arguments["coordinate"] == [x, y]
    assert parse_point(text) == (x, y)


ADVERSARIAL = {  # untrusted text at the length cap: each parser answers (a value or ParseError), in linear time
    "nested lists": "[" * 100_000 + "]" * 100_000,  # read as boxes this once overflowed the stack (RecursionError)
    "nested braces": "{" * 100_000 + "}" * 100_000,
    "nested in a call": "<tool_call>" + "[" * 5000 + "]" * 5000 + "</tool_call>",
    "invalid objects": "{a b}" * 40_000,
    "unclosed objects": '{"a": ' * 33_333,
    "unclosed points tags": '<points x1="1" ' * 4266,
    "object refs": "<|object_ref_start|>" * 3200,
    "tool_call tags": "<tool_call>{" * 5333,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_adversarial_answers_are_parse_errors_not_crashes(text: str) -> None:
    for parse in (parse_tool_calls, parse_boxes, parse_points, parse_point):
        with pytest.raises(ParseError):
            parse(text)


def test_too_long_an_answer_is_refused() -> None:
    with pytest.raises(ParseError, match="characters long"):
        parse_tool_calls(f"<tool_call>\n{BODY}\n</tool_call>" + " " * 200_000)
