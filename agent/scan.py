"""Finding the JSON values embedded in model text, and what an answer cut off may still keep.

A model stopped by its token limit leaves a value open. Closing an open number or string would invent
a value (``[935, 40`` may have been ``[935, 405]``; a ``type`` cut inside its text would type half of
it), so the only repair is to close the one outermost object when the text stops right after a complete
value inside it, and only when the caller accepts the result (a tool call whose ``arguments`` object is
complete). A list keeps its complete items. Everything else that stops inside a value is reported as
``cut`` and nothing inside it is read: not even a complete-looking object inside a cut string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import json5

MAX_DEPTH = 32  # deeper brackets are not an answer; bounding them keeps scanning linear (fuzzed, benched)
MAX_JSON5 = 20_000  # characters: JSON5 is pure Python; longer fragments are read as strict JSON only
_OBJECT, _OBJECT_OR_LIST = re.compile(r"\{"), re.compile(r"[{\[]")
_EVENT = re.compile(r"""[{}\[\]"']""")
_IN_DOUBLE, _IN_SINGLE = re.compile(r'["\\]'), re.compile(r"['\\]")
_LITERAL_END = re.compile(r"(?:true|false|null)\Z")
_NUMBER_END = re.compile(r"[-+0-9.eE]\Z")


@dataclass
class Scan:
    """The complete values found, in order, and the tail of a value the text stops inside (if any)."""

    values: list[Any] = field(default_factory=list)
    cut: str = ""


@dataclass
class _Work:
    """What one scan may still spend: bracket-matching steps, and JSON5 reads (pure Python, slow).

    Failed candidates (prose braces) are rescanned from the next bracket; bounding the work keeps
    adversarial answers (nested brackets, thousands of unclosed objects) linear. A real answer's values
    are found within the budget: each complete value is matched once.
    """

    steps: int
    json5: int = 8


def scan(text: str, *, lists: bool = False, close: Callable[[Any], bool] | None = None,
         _work: _Work | None = None) -> Scan:
    """The top-level JSON objects (and lists, if asked) embedded in ``text``.

    ``close``: when the text stops inside an object whose only open bracket is its own and the last
    thing in it is a complete value, the object is closed and kept if ``close(value)`` accepts it.
    """
    work = _work or _Work(steps=len(text) // 2 + 10_000)
    found = Scan()
    opener = _OBJECT_OR_LIST if lists else _OBJECT
    i = 0
    while (next_opener := opener.search(text, i)) is not None and work.steps > 0:
        i = next_opener.start()
        work.steps -= 8  # each candidate costs a little, however short
        end, depth, in_string = _match(text, i, work)
        if end is not None:
            value = _load(text[i : end + 1], work)
            if value is not None:
                found.values.append(value)
                i = end + 1
            else:
                i += 1
            continue
        if depth == 0:  # a mismatched bracket: not JSON that starts here
            i += 1
            continue
        fragment = text[i:]  # the text stops inside this value: all that follows lies inside it
        if text[i] == "[":
            found.values += scan(fragment[1:], _work=work).values  # a list keeps its complete items, not a cut one
        elif close and depth == 1 and not in_string and ends_after_value(fragment):
            value = _load(fragment.rstrip().removesuffix(",") + "}", work)
            if value is not None and close(value):
                found.values.append(value)
                return found
        found.cut = fragment
        return found
    return found


def ends_after_value(fragment: str) -> bool:
    """Whether ``fragment`` (not inside a string) stops right after a complete value.

    A number at the very end is not complete (``40`` may have been ``405``); one followed by a space or
    a comma is. A closed string, bracket or brace, and ``true``/``false``/``null`` are complete.
    """
    stripped = fragment.rstrip()
    terminated = stripped != fragment
    if stripped.endswith(","):
        stripped, terminated = stripped[:-1].rstrip(), True
    if not stripped:
        return False
    if stripped[-1] in "\"'}]" or _LITERAL_END.search(stripped):
        return True
    return bool(_NUMBER_END.search(stripped)) and terminated


def _match(text: str, start: int, work: _Work) -> tuple[int | None, int, bool]:
    """The index of the bracket closing ``text[start]``; else None, the depth left open (0: mismatched
    brackets, nested deeper than `MAX_DEPTH`, or out of work) and whether the text stops inside a string.

    Jumps from bracket to quote to bracket with regular expressions: a long string costs one step.
    """
    stack: list[str] = []
    i = start
    while True:
        work.steps -= 1
        if work.steps < 0:
            return None, 0, False
        event = _EVENT.search(text, i)
        if event is None:
            return None, len(stack), False
        c, i = event.group(), event.end()
        if c in "\"'":
            inside = _IN_DOUBLE if c == '"' else _IN_SINGLE
            while (close := inside.search(text, i)) is not None and close.group() == "\\":
                i = close.end() + 1  # an escaped character
                work.steps -= 1
            if close is None:
                return None, len(stack), True
            i = close.end()
        elif c in "{[":
            stack.append("}" if c == "{" else "]")
            if len(stack) > MAX_DEPTH:
                return None, 0, False
        elif not stack or stack.pop() != c:
            return None, 0, False
        elif not stack:
            return event.start(), 0, False


def _load(fragment: str, work: _Work) -> Any:
    """JSON, else JSON5 (single quotes, trailing commas, unquoted keys); None when neither reads it."""
    try:
        return json.loads(fragment)
    except Exception:  # noqa: BLE001 - any failure to read model text is "not JSON"
        pass
    if len(fragment) > MAX_JSON5 or work.json5 <= 0:
        return None
    try:
        return json5.loads(fragment)
    except Exception:  # noqa: BLE001
        work.json5 -= 1  # only failures count: a long answer of single-quoted items is still read
        return None


def tail(fragment: str, width: int = 40) -> str:
    """The end of a cut fragment, short enough to quote back to the model."""
    fragment = " ".join(fragment.split())
    return fragment if len(fragment) <= width else "…" + fragment[-width:]
