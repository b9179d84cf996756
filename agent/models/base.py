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


@runtime_checkable
class Model(Protocol):
    name: str

    def generate(self, prompt: Prompt) -> Generation: ...

    def describe(self) -> dict[str, Any]: ...
