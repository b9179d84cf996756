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

_LITERAL_END = re.compile(r"(?:true|false|null)\Z")
_NUMBER_END = re.compile(r"[-+0-9.eE]\Z")


@dataclass
class Scan:
    """The complete values found, in order, and the tail of a value the text stops inside (if any)."""

    values: list[Any] = field(default_factory=list)
    cut: str = ""


def scan(text: str, *, lists: bool = False, close: Callable[[Any], bool] | None = None) -> Scan:
    """The top-level JSON objects (and lists, if asked) embedded in ``text``.

    ``close``: when the text stops inside an object whose only open bracket is its own and the last
    thing in it is a complete value, the object is closed and kept if ``close(value)`` accepts it.
    """
    found = Scan()
    openers = "{[" if lists else "{"
    i = 0
    while i < len(text):
        if text[i] not in openers:
            i += 1
            continue
        end, depth, in_string = _match(text, i)
        if end is not None:
            value = _load(text[i : end + 1])
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
            found.values += scan(fragment[1:]).values  # a list keeps its complete items; a cut item is dropped
        elif close and depth == 1 and not in_string and ends_after_value(fragment):
            value = _load(fragment.rstrip().removesuffix(",") + "}")
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


def _match(text: str, start: int) -> tuple[int | None, int, bool]:
    """The index of the bracket closing ``text[start]``; else None, the depth left open (0: mismatched
    brackets) and whether the text stops inside a string."""
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
                return None, 0, False
            if not stack:
                return i, 0, False
        i += 1
    return None, len(stack), bool(quote)


def _load(fragment: str) -> Any:
    """JSON, else JSON5 (single quotes, trailing commas, unquoted keys); None when neither reads it."""
    for loads in (json.loads, json5.loads):
        try:
            return loads(fragment)
        except Exception:  # noqa: BLE001 - any failure to read model text is "not JSON"
            continue
    return None


def tail(fragment: str, width: int = 40) -> str:
    """The end of a cut fragment, short enough to quote back to the model."""
    fragment = " ".join(fragment.split())
    return fragment if len(fragment) <= width else "…" + fragment[-width:]
