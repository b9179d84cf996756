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
    """Returns ``texts`` one by one; asking for more than were recorded is a `ReplayMismatch`."""

    def __init__(self, texts: Iterable[str], name: str = "replay", *, keep_prompts: int = 32) -> None:
        self.texts = list(texts)
        self.name = name
        self.calls = 0
        # the newest prompts, for assertions; bounded so a long replay's memory stays flat
        self.prompts: deque[Prompt] = deque(maxlen=keep_prompts)

    @classmethod
    def from_trajectory(cls, path: str | Path) -> ReplayModel:
        """Every raw answer of a recorded run, retries included, in the order they were given."""
        from agent.trajectory import Trajectory

        trajectory = Trajectory.load(path)
        texts = [attempt["raw"] for step in trajectory.steps for attempt in step.get("attempts", [])]
        return cls(texts, name=f"replay:{trajectory.run.get('model', {}).get('name', path)}")

    def generate(self, prompt: Prompt) -> Generation:
        if self.calls >= len(self.texts):
            raise ReplayMismatch(f"the model was asked for answer {self.calls + 1}, but only {len(self.texts)} were recorded")
        self.prompts.append(prompt)
        self.calls += 1
        return Generation(self.texts[self.calls - 1])

    def describe(self) -> dict[str, Any]:
        return {"backend": "replay", "name": self.name, "answers": len(self.texts)}
