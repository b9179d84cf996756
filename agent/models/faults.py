"""`FaultyModel`: a model that fails on chosen calls the way real models and servers do, for tests.

Wrap any model (a `ReplayModel`, an `OpenAIModel` on a loopback server) and name what goes wrong on
which call (1-based): ``FaultyModel(model, {2: "timeout", 3: "garbage"})``. The loop, the runner and
the CLI then meet the very exceptions and texts they meet in production:

- ``"timeout"``: `ModelTimeout`, as `OpenAIModel` raises when the server does not answer within --timeout;
- ``"unavailable"``: `ServerError`, as for a server that answered before, then went away or keeps answering
  HTTP 5xx (an infrastructure fault of the episode: the episode ends ``error``, an eval goes on);
- ``"garbage"``: an answer with no tool call in it; ``"empty"``: an empty answer (a model that says nothing);
- ``"cut_off"``: a tool call cut off mid-way, as when the token budget runs out.

HTTP-level faults (a 500, a hang) are best injected one level lower, at a real server:
`agent.models.testing.ScriptedServer` (``fail_first``, ``fail_status``, ``latency``) with the real client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agent.errors import ModelTimeout, ServerError
from agent.models.base import Generation, Model
from agent.prompt import Prompt

GARBAGE = "Sure! I would click on the button that looks most promising, probably the blue one."
CUT_OFF = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [31'
FAULTS = ("timeout", "unavailable", "garbage", "empty", "cut_off")


class FaultyModel:
    """Delegates to ``model`` except on the calls ``faults`` names (a mapping or a function of the call number)."""

    def __init__(self, model: Model, faults: Mapping[int, str] | Callable[[int], str | None]) -> None:
        self.model = model
        self.faults = faults
        self.calls = 0
        self.injected: list[tuple[int, str]] = []  # (call, fault), for assertions
        for fault in faults.values() if isinstance(faults, Mapping) else ():
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")

    @property
    def name(self) -> str:
        return getattr(self.model, "name", type(self.model).__name__)

    def generate(self, prompt: Prompt) -> Generation:
        self.calls += 1
        fault = self.faults(self.calls) if callable(self.faults) else self.faults.get(self.calls)
        if fault is None:
            return self.model.generate(prompt)
        self.injected.append((self.calls, fault))
        if fault == "timeout":
            raise ModelTimeout(f"the model server did not answer within the timeout (injected on call {self.calls})")
        if fault == "unavailable":
            raise ServerError(f"the model server went away (injected on call {self.calls})")
        if fault == "cut_off":
            return Generation(CUT_OFF, finish_reason="length")
        if fault in ("garbage", "empty"):
            return Generation(GARBAGE if fault == "garbage" else "")
        raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")

    def describe(self) -> dict[str, Any]:
        inner = self.model.describe() if hasattr(self.model, "describe") else {}
        return {"backend": "faulty", "inner": inner}
