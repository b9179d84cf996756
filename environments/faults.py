"""`FaultyEnvironment`: an environment wrapper that makes chosen calls fail as real screens and devices do.

``FaultyEnvironment(env, {("observe", 2): screenshot_fails, ("execute", 1): black_frames})`` runs ``fault``
before the named call (1-based per verb) and then the call itself, so the real adapter meets the fault:

- `screenshot_fails`: the capture raises `EnvironmentFailure` (a grab that failed, a device that sent nothing);
- `black_frame`: this observation's screenshot is all black (a screen saver, a compositor that lost its buffer);
- `close_browser`: the real browser is closed under the agent (``BrowserEnvironment``), which then reports it;
- any callable ``fault(env)``: do something real — stop the simulated phone's adb server, kill the X server.

A wrapper, not branches in the adapters (Gymnasium's wrappers): nothing in production code knows about it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PIL import Image

from agent.errors import EnvironmentFailure
from environments.base import Command, Environment, Observation, StepResult
from environments.wrappers import Wrapper

Fault = Callable[[Environment], Any]
BLACK = "black_frame"


def screenshot_fails(env: Environment) -> None:
    raise EnvironmentFailure("the screenshot could not be taken (injected fault)")


def black_frame(env: Environment) -> str:
    return BLACK  # applied to the observation that the call returns


def close_browser(env: Environment) -> None:
    """Close the real browser window under a `BrowserEnvironment` (its context: every page), as a user would."""
    env.context.close()  # type: ignore[attr-defined]


class FaultyEnvironment(Wrapper):
    """Runs ``faults[(verb, n)](env)`` before the n-th call of ``verb`` ("reset", "observe", "execute")."""

    def __init__(self, env: Environment, faults: Mapping[tuple[str, int], Fault]) -> None:
        super().__init__(env)
        self.faults = dict(faults)
        self.calls = {"reset": 0, "observe": 0, "execute": 0}
        self.injected: list[tuple[str, int]] = []

    def _before(self, verb: str) -> Any:
        self.calls[verb] += 1
        fault = self.faults.get((verb, self.calls[verb]))
        if fault is None:
            return None
        self.injected.append((verb, self.calls[verb]))
        return fault(self.env)

    def reset(self) -> Observation:
        return self._after(self._before("reset"), self.env.reset())

    def observe(self) -> Observation:
        return self._after(self._before("observe"), self.env.observe())

    def execute(self, command: Command) -> StepResult:
        self._before("execute")
        return self.env.execute(command)

    @staticmethod
    def _after(effect: Any, observation: Observation) -> Observation:
        if effect != BLACK:
            return observation
        black = Image.new("RGB", observation.screenshot.size)
        return Observation(black, observation.input_size, observation.origin,
                           {**observation.info, "injected_fault": BLACK})
