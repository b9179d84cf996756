"""Answers constrained to valid tool calls by the server (vLLM structured outputs: a regex per request).

A random test model, or a weak one, then still produces calls that parse, validate and land on the screen:
this is how the tests drive the whole loop through a real vLLM with the tiny model. Opt-in
(`OpenAIModel(structured_outputs=tool_call_outputs)` or ``--constrain-tool-calls``): a constrained model
cannot say anything the regex does not allow, so it is a testing and rescue tool, not the default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from agent.errors import ConfigError
from agent.prompt import Prompt

POINT_PREFILL_END = '"coordinate": ['  # the ScreenSpot prefill stops inside a left_click's coordinate
TEXT = "[A-Za-z0-9 ]{1,16}"


def escape(text: str) -> str:
    """``text`` as a literal for the server's regex engine (xgrammar/guidance): metacharacters and newlines only."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", text).replace("\n", "\\n")


def int_range(n: int) -> str:
    """A regex for the integers 0..n (no leading zeros)."""
    if n < 0:
        raise ValueError(f"no integers in 0..{n}")
    s, parts = str(n), []
    parts += ["[0-9]"] if len(s) > 1 else []
    parts += [f"[1-9][0-9]{{{k - 1}}}" for k in range(2, len(s))]
    for i, ch in enumerate(s):  # same length as n: a smaller digit at position i, anything after it
        low = 1 if i == 0 and len(s) > 1 else 0
        if int(ch) > low:
            parts.append(s[:i] + f"[{low}-{int(ch) - 1}]" + "[0-9]" * (len(s) - i - 1))
    parts.append(s)
    return "(" + "|".join(parts) + ")"


def _point(width: int, height: int) -> str:
    return rf"\[{int_range(width - 1)}, {int_range(height - 1)}\]"


def _call(tool: str, arguments: list[str]) -> str:
    body = "|".join(arguments)
    return escape(f'<tool_call>\n{{"name": "{tool}", "arguments": {{') + f"({body})" + escape("}}\n</tool_call>")


ACTIONS = ("click", "type", "terminate")


def tool_call_regex(tool: str, width: int, height: int, actions: tuple[str, ...] = ACTIONS) -> str:
    """Clicks inside the model-space screen, short texts, and/or terminate, as the tool's call format."""
    click = "left_click" if tool == "computer_use" else "click"
    arguments = {
        "click": escape(f'"action": "{click}", "coordinate": ') + _point(width, height),
        "type": escape('"action": "type", "text": "') + TEXT + '"',
        "terminate": escape('"action": "terminate", "status": "') + "(success|failure)" + '"',
    }
    return _call(tool, [arguments[a] for a in actions])


def tool_call_outputs(prompt: Prompt, actions: tuple[str, ...] = ACTIONS) -> dict[str, Any] | None:
    """The ``structured_outputs`` field for ``prompt``: a valid call, or the rest of a prefilled point."""
    if "model_size" in prompt.meta:
        width, height = prompt.meta["model_size"]
    elif prompt.images:
        width, height = prompt.images[-1].size
    else:
        return None
    if prompt.prefill.endswith(POINT_PREFILL_END):
        return {"regex": f"{int_range(width - 1)}, {int_range(height - 1)}" + escape("]}}\n</tool_call>")}
    if prompt.prefill:
        return None  # any other prefill: no regex knows where it stops
    tool = "mobile_use" if '"name": "mobile_use"' in prompt.system else "computer_use"
    return {"regex": tool_call_regex(tool, width, height, actions)}


def constrained_outputs(actions: str | None) -> Callable[[Prompt], dict[str, Any] | None] | None:
    """``--constrain-tool-calls click,type``: the per-prompt structured outputs for those actions, or None."""
    if actions is None:
        return None
    chosen = tuple(a.strip() for a in actions.split(",") if a.strip())
    unknown = [a for a in chosen if a not in ACTIONS]
    if unknown or not chosen:
        raise ConfigError(f"--constrain-tool-calls takes actions from {', '.join(ACTIONS)}; got {actions!r}")
    return partial(tool_call_outputs, actions=chosen)
