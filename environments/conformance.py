"""The conformance check every environment adapter passes (Gymnasium's ``check_env``, for clicks).

A target in `TARGET_RGB` is shown at known places; a `TargetSeekingModel` finds it *in the model-space
image of the prompt* (so nothing is assumed about the mapping) and answers with a click at its centre,
as text; the real pipeline (parse → validate → map → execute) carries it out; the adapter's display
reports where the click landed. A click outside the target fails the check. Run it in your CI with your
own adapter: implement `TargetDisplay` for it and call `check_environment`; `assert_contract` checks the
protocol's rules (order of calls, framework actions, unsupported actions, closing twice).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from agent.errors import ActionValidationError
from agent.geometry import ScreenPoint, Size
from agent.loop import Agent, AgentConfig
from agent.models.base import Generation
from agent.prompt import Prompt
from agent.rects import Box
from environments.base import Command, Environment, Observation, StepResult
from environments.make import make_env
from environments.wrappers import ResetNeeded, Wrapper

TARGET_RGB = (255, 0, 255)


class TargetDisplay(Protocol):
    """What an adapter's test app offers: draw a target, tell where the last click landed."""

    def show_target(self, box: Box) -> None: ...

    def last_click(self) -> ScreenPoint | None: ...


class TargetSeekingModel:
    """A model that clicks the centre of the `TARGET_RGB` pixels it sees in the newest screenshot."""

    name = "target-seeker"

    def __init__(self, tool: str = "computer_use", tolerance: int = 40) -> None:
        self.tool, self.tolerance = tool, tolerance
        self.answers: list[tuple[float, float]] = []

    def generate(self, prompt: Prompt) -> Generation:
        pixels = np.asarray(prompt.images[-1].convert("RGB"), dtype=np.int16)
        mask = (np.abs(pixels - np.array(TARGET_RGB)).max(axis=2) <= self.tolerance)
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            wait = {"name": self.tool, "arguments": {"action": "wait", "time": 0}}
            return Generation(f"<tool_call>\n{json.dumps(wait)}\n</tool_call>")
        # centre of the target's bounding box, in the pixels of the image the model saw (+0.5: pixel centres)
        x, y = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
        self.answers.append((x, y))
        action = "left_click" if self.tool == "computer_use" else "click"
        args = {"action": action, "coordinate": [round(float(x), 1), round(float(y), 1)]}
        return Generation(f"<tool_call>\n{json.dumps({'name': self.tool, 'arguments': args})}\n</tool_call>")

    def describe(self) -> dict[str, Any]:
        return {"backend": "target-seeker", "name": self.name}


@dataclass(frozen=True)
class ClickCheck:
    box: Box
    model_point: tuple[float, float] | None
    landed: ScreenPoint | None

    @property
    def hit(self) -> bool:
        x1, y1, x2, y2 = self.box
        return self.landed is not None and x1 <= self.landed.x < x2 and y1 <= self.landed.y < y2


def default_boxes(size: Size, side: int = 24) -> list[Box]:
    """Targets near the four corners, the centre and two odd places, ``side`` px wide."""
    w, h, s = size.width, size.height, side
    places = [(4, 4), (w - s - 4, 4), (4, h - s - 4), (w - s - 4, h - s - 4), ((w - s) // 2, (h - s) // 2),
              (w // 3 + 7, h // 5 + 3), (2 * w // 3 - 5, 3 * h // 4 + 1)]
    return [(x, y, x + s, y + s) for x, y in places]


def check_environment(
    env: Environment,
    display: TargetDisplay,
    boxes: Iterable[Box] | None = None,
    *,
    config: AgentConfig | None = None,
) -> list[ClickCheck]:
    """Click every target through the real pipeline; returns one `ClickCheck` per target."""
    config = config or AgentConfig(max_steps=1, max_retries=0)
    checks = []
    for box in boxes if boxes is not None else default_boxes(env.observe().input_size):
        display.show_target(box)
        model = TargetSeekingModel(env.tool)
        Agent(model, env, config).run("Click the magenta square.")
        checks.append(ClickCheck(box, model.answers[-1] if model.answers else None, display.last_click()))
    return checks


def assert_conformant(checks: list[ClickCheck], label: str = "") -> None:
    """Raise AssertionError naming every missed target."""
    misses = [c for c in checks if not c.hit]
    if misses:
        lines = [f"target {c.box}: model clicked {c.model_point}, landed at {c.landed}" for c in misses]
        raise AssertionError(f"{label}: {len(misses)} of {len(checks)} clicks missed\n" + "\n".join(lines))


# -- the protocol's contract (Gymnasium's env checker) -------------------------------------------------
class _Spy(Wrapper):
    """Right above the adapter: notes the name of every command that reaches it."""

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.reached: list[str] = []

    def execute(self, command: Command) -> StepResult:
        self.reached.append(command.name)
        return self.env.execute(command)


def _unsupported(tool: str) -> Command:
    """A well-formed action of the *other* native tool: no adapter of ``tool`` can carry it out."""
    from tools import get_tool

    if tool == "mobile_use":
        return Command(get_tool("computer_use").validate({"action": "middle_click"}))
    return Command(get_tool("mobile_use").validate({"action": "system_button", "button": "Home"}))


def check_contract(adapter: Environment) -> list[str]:
    """Run the protocol's contract against ``adapter`` as `make_env` composes it; the problems found.

    Checked: ``observe``/``execute`` before ``reset`` are refused with `ResetNeeded`; ``terminate``,
    ``answer`` and ``wait`` never reach the adapter (the framework handles them); an action the adapter
    does not support raises `ActionValidationError` (the model is told and retries), and the adapter still
    works afterwards; ``close()`` twice is harmless. Closes ``adapter``.
    """
    from tools import get_tool

    problems: list[str] = []
    spy: list[_Spy] = []
    env = make_env(adapter, max_steps=100, inner=[lambda e: spy.append(_Spy(e)) or spy[-1]])
    tool = get_tool(adapter.tool)
    for verb, call in (("observe", env.observe), ("execute", lambda: env.execute(_unsupported(adapter.tool)))):
        try:
            call()
            problems.append(f"{verb}() before reset() was accepted")
        except ResetNeeded:
            pass
    first = env.reset()
    if not isinstance(first, Observation):
        problems.append(f"reset() returned {type(first).__name__}, not an Observation")
    for arguments in ({"action": "wait", "time": 0}, {"action": "answer", "text": "42"} if "answer" in
                      tool.action_names else None, {"action": "terminate", "status": "success"}):
        if arguments is not None:
            env.execute(Command(tool.validate(arguments)))
    if spy[0].reached:
        problems.append(f"framework actions reached the adapter: {spy[0].reached}")
    try:
        env.execute(_unsupported(adapter.tool))
        problems.append("an unsupported action was accepted")
    except ActionValidationError:
        pass
    except Exception as exc:  # noqa: BLE001 - the problem to report
        problems.append(f"an unsupported action raised {type(exc).__name__} ({exc}), not ActionValidationError")
    try:
        env.observe()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"observe() after an unsupported action failed: {type(exc).__name__}: {exc}")
    for attempt, close in (("first", env.close), ("second", adapter.close), ("third", env.close)):
        try:  # the stack closes the adapter once; a caller closing what it opened closes it again
            close()
        except Exception as exc:  # noqa: BLE001
            problems.append(f"the {attempt} close() raised {type(exc).__name__}: {exc}")
    return problems


def assert_contract(adapter: Environment, label: str = "") -> None:
    """Raise AssertionError listing every broken rule of `check_contract`."""
    problems = check_contract(adapter)
    if problems:
        raise AssertionError(f"{label or type(adapter).__name__} breaks the environment contract:\n" + "\n".join(problems))
