"""Parser speed: typical answers (microseconds) and adversarial ones at the 200,000-character cap.

Model text is untrusted: an answer of nested brackets, unclosed tags or thousands of box tokens must
not take quadratic time. Every row is parse_tool_calls + parse_boxes + parse_point on the same text.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time

from rich.console import Console
from rich.table import Table

from agent.errors import ParseError
from agent.parser import parse_boxes, parse_point, parse_tool_calls

console = Console()
CAP = 200_000  # agent.parser._MAX_TEXT
CALL = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [644, 342]}}\n</tool_call>'

TYPICAL = {
    "click": CALL,
    "reasoning": "<thinking>" + "The sign-in button is below the password field. " * 8 + "</thinking>\n" + CALL
                 + "\n<conclusion>Clicked sign in.</conclusion>",
    "cut off": CALL[:80],
    "bbox list (20)": "```json\n" + json.dumps([{"bbox_2d": [i, i, i + 9, i + 9], "label": f"b{i}"} for i in range(20)]) + "\n```",
    "box tokens": "<|object_ref_start|>OK<|object_ref_end|><|box_start|>(90,40),(190,100)<|box_end|>",
}


def _fill(unit: str) -> str:
    return unit * (CAP // len(unit))


ADVERSARIAL = {
    "nested braces": "{" * (CAP // 2) + "}" * (CAP // 2),
    "nested lists": "[" * (CAP // 2) + "]" * (CAP // 2),
    "invalid objects": _fill("{a b}"),
    "unclosed objects": _fill('{"a": '),
    "unclosed <points": _fill('<points x1="1" '),
    "open <points> tags": _fill('<points x1="1" y1="2">'),
    "object refs": _fill("<|object_ref_start|>"),
    "box tokens": _fill("<|box_start|>(1,2),(3,4)<|box_end|>"),
    "tool_call tags": _fill("<tool_call>{"),
    "pairs": _fill("(1,2),"),
    "one long string": '{"action": "type", "text": "' + "a" * (CAP - 40) + '"}',
}


def _once(text: str) -> float:
    t = time.perf_counter()
    for parse in (parse_tool_calls, parse_boxes, parse_point):
        with contextlib.suppress(ParseError):
            parse(text)
    return time.perf_counter() - t


def main() -> None:
    table = Table(title="parse_tool_calls + parse_boxes + parse_point")
    table.add_column("answer")
    table.add_column("characters", justify="right")
    table.add_column("median", justify="right")
    for name, text in TYPICAL.items():
        times = [_once(text) for _ in range(200)]
        table.add_row(name, f"{len(text):,}", f"{statistics.median(times) * 1e6:.0f} µs")
    worst = 0.0
    for name, text in ADVERSARIAL.items():
        seconds = min(_once(text) for _ in range(2))
        worst = max(worst, seconds)
        table.add_row(f"adversarial: {name}", f"{len(text):,}", f"{seconds * 1e3:.0f} ms")
    console.print(table)
    console.print(f"slowest adversarial answer: {worst * 1e3:.0f} ms (target: under 1 s at the {CAP:,}-character cap)")


if __name__ == "__main__":
    main()
