"""The one small protocol every model backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agent.prompt import Prompt


@dataclass(frozen=True)
class Generation:
    """A model's raw answer and what it cost. ``text`` excludes the prompt's prefill."""

    text: str
    seconds: float = 0.0
    image_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # "stop" or "length" (the token limit was reached: the text may be cut off), None when unknown
    finish_reason: str | None = None

    @property
    def cut_off(self) -> bool:
        """The backend stopped at the token limit; the parser then reads only what the model closed itself."""
        return self.finish_reason == "length"


@runtime_checkable
class Model(Protocol):
    name: str

    def generate(self, prompt: Prompt) -> Generation: ...

    def describe(self) -> dict[str, Any]: ...
