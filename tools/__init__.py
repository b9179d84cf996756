"""The action schema: pydantic models of Qwen2.5-VL's two native tools, ``computer_use`` and ``mobile_use``."""

from __future__ import annotations

from tools.base import Action, Answer, Terminate, Tool, Type, Wait
from tools.computer_use import COMPUTER_USE
from tools.mobile_use import MOBILE_USE

TOOLS: dict[str, Tool] = {COMPUTER_USE.name: COMPUTER_USE, MOBILE_USE.name: MOBILE_USE}


def get_tool(name: str) -> Tool:
    try:
        return TOOLS[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r}; known: {', '.join(TOOLS)}") from None


__all__ = ["COMPUTER_USE", "MOBILE_USE", "TOOLS", "Action", "Answer", "Terminate", "Tool", "Type", "Wait", "get_tool"]
