"""`ReplayModel`: answers with recorded texts, in order. A shipped test double users can use too."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.errors import ReplayMismatch
from agent.models.base import Generation
from agent.prompt import Prompt


class ReplayModel:
    """Returns ``texts`` one by one; asking for more than were recorded is a `ReplayMismatch`.

    ``finish_reasons`` (parallel to ``texts``, None where unknown) replay a recorded "length" stop too.
    """

    def __init__(self, texts: Iterable[str], name: str = "replay", *, keep_prompts: int = 32,
                 finish_reasons: Iterable[str | None] = ()) -> None:
        self.texts = list(texts)
        self.finish_reasons = list(finish_reasons)
        self.name = name
        self.calls = 0
        # the newest prompts, for assertions; bounded so a long replay's memory stays flat
        self.prompts: deque[Prompt] = deque(maxlen=keep_prompts)

    @classmethod
    def from_trajectory(cls, path: str | Path) -> ReplayModel:
        """Every raw answer of a recorded run, retries included, in the order they were given."""
        from agent.trajectory import Trajectory

        trajectory = Trajectory.load(path)
        attempts = [attempt for step in trajectory.steps for attempt in step.get("attempts", [])]
        return cls([a["raw"] for a in attempts], name=f"replay:{trajectory.run.get('model', {}).get('name', path)}",
                   finish_reasons=[a.get("finish_reason") for a in attempts])

    def generate(self, prompt: Prompt) -> Generation:
        if self.calls >= len(self.texts):
            raise ReplayMismatch(f"the model was asked for answer {self.calls + 1}, but only {len(self.texts)} were recorded")
        self.prompts.append(prompt)
        self.calls += 1
        reasons = self.finish_reasons
        return Generation(self.texts[self.calls - 1],
                          finish_reason=reasons[self.calls - 1] if self.calls <= len(reasons) else None)

    def describe(self) -> dict[str, Any]:
        return {"backend": "replay", "name": self.name, "answers": len(self.texts)}
