"""Cross-cutting concerns as environment wrappers, not branches in the loop (Gymnasium's TimeLimit)."""

from __future__ import annotations

from typing import Any

from agent.errors import StepBudgetExceeded
from environments.base import Command, Environment, Observation, StepResult


class Wrapper:
    """Forwards everything to ``env``; subclasses override the verbs they change."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    @property
    def tool(self) -> str:
        return self.env.tool

    def reset(self) -> Observation:
        return self.env.reset()

    def observe(self) -> Observation:
        return self.env.observe()

    def execute(self, command: Command) -> StepResult:
        return self.env.execute(command)

    def close(self) -> None:
        self.env.close()

    def describe(self) -> dict[str, Any]:
        return self.env.describe()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


class StepLimit(Wrapper):
    """Refuses to observe after ``max_steps`` executed actions, so no model call is wasted."""

    def __init__(self, env: Environment, max_steps: int) -> None:
        super().__init__(env)
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self.max_steps = max_steps
        self.executed = 0

    def reset(self) -> Observation:
        self.executed = 0
        return self.env.reset()

    def observe(self) -> Observation:
        if self.executed >= self.max_steps:
            raise StepBudgetExceeded(f"the step budget of {self.max_steps} step{'' if self.max_steps == 1 else 's'} was used up without terminating")
        return self.env.observe()

    def execute(self, command: Command) -> StepResult:
        self.executed += 1
        return self.env.execute(command)
