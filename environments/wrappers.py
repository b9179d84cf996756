"""Cross-cutting concerns as environment wrappers, not branches in the loop or the adapters (Gymnasium).

`environments.make.make_env` stacks them; each changes only the verbs it is about. Nothing is forwarded
implicitly: what an adapter offers beyond the protocol (the browser's ``page``, the phone's ``shell``) is
reached through ``env.unwrapped`` (the adapter at the bottom) or ``env.get_wrapper_attr(name)`` (the
first layer that has it), so a caller says that it reaches past the stack.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, TypeVar

from agent.errors import EnvironmentFailure, StepBudgetExceeded
from environments.base import Command, Environment, Observation, StepResult

FRAMEWORK_ACTIONS = frozenset({"terminate", "answer", "wait"})  # the framework's, never a device's
W = TypeVar("W", bound="Wrapper")


class ResetNeeded(EnvironmentFailure):
    """``observe``/``execute`` was called before ``reset`` (Gymnasium's ResetNeeded)."""


class Wrapper:
    """Passes the protocol's verbs to ``env``; subclasses override the verbs they change."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    @property
    def tool(self) -> str:
        return self.env.tool

    @property
    def unwrapped(self) -> Environment:
        """The adapter at the bottom of the stack."""
        return self.env.unwrapped if isinstance(self.env, Wrapper) else self.env

    def get_wrapper_attr(self, name: str) -> Any:
        """``name`` from the outermost layer that has it, the adapter included (Gymnasium's get_wrapper_attr)."""
        layer: Any = self
        while True:
            if name in vars(layer) or hasattr(type(layer), name):
                return getattr(layer, name)
            if not isinstance(layer, Wrapper):
                raise AttributeError(f"no layer of this environment has {name!r}")
            layer = layer.env

    def find(self, kind: type[W]) -> W | None:
        """The outermost wrapper of type ``kind`` in this stack, or None."""
        layer: Any = self
        while isinstance(layer, Wrapper):
            if isinstance(layer, kind):
                return layer
            layer = layer.env
        return None

    def layers(self) -> list[str]:
        """The wrappers' names, outermost first (recorded in ``run.json``)."""
        return [type(self).__name__] + (self.env.layers() if isinstance(self.env, Wrapper) else [])

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


class OrderEnforcing(Wrapper):
    """``observe``/``execute`` before the first ``reset`` is an error, not an action on an unknown screen;
    closing twice is harmless (Gymnasium's OrderEnforcing and PassiveEnvChecker)."""

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.has_reset = False
        self.closed = False

    def reset(self) -> Observation:
        observation = self.env.reset()
        self.has_reset = True
        return observation

    def observe(self) -> Observation:
        self._check("observe")
        return self.env.observe()

    def execute(self, command: Command) -> StepResult:
        self._check("execute")
        return self.env.execute(command)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.env.close()

    def _check(self, verb: str) -> None:
        if self.closed:
            raise ResetNeeded(f"{verb}() on a closed environment")
        if not self.has_reset:
            raise ResetNeeded(f"{verb}() before reset(): call reset() first")


class FrameworkActions(Wrapper):
    """``terminate``, ``answer`` and ``wait`` handled once for every adapter, which then implements only
    the verbs that touch its device (openai-agents' Computer). ``wait`` lets the adapter keep its device
    served while waiting when it offers ``pause(seconds)`` (a browser runs its event loop; what it reports
    from the wait goes into the step's info), else sleeps."""

    def execute(self, command: Command) -> StepResult:
        name, action = command.name, command.action
        if name == "terminate":
            return StepResult(info={"status": action.status})
        if name == "answer":
            return StepResult(info={"answer": action.text})
        if name == "wait":
            seconds = float(action.time)
            pause = getattr(self.unwrapped, "pause", None)
            met = pause(seconds) if pause is not None else time.sleep(seconds)
            return StepResult(info={"waited_s": seconds, **(met or {})})
        return self.env.execute(command)


class Timing(Wrapper):
    """Records how long the environment took to look at the screen (``observe_ms`` in the observation's
    info, so in each step of the trajectory); the loop times execute itself."""

    def reset(self) -> Observation:
        return self._timed(self.env.reset)

    def observe(self) -> Observation:
        return self._timed(self.env.observe)

    @staticmethod
    def _timed(look) -> Observation:
        started = time.perf_counter()
        observation = look()
        ms = round((time.perf_counter() - started) * 1000, 3)
        return dataclasses.replace(observation, info={**observation.info, "observe_ms": ms})
