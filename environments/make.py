"""`make_env`: the environment a run uses, an adapter with the framework's wrappers stacked around it.

As ``gym.make`` does, the stack is built in one place, outside the loop; `agent.loop.Agent` receives it.
Outermost first::

    StepLimit(max_steps)       the step budget: observing after it is used up ends the episode "step_limit"
      *outer                   wrappers that judge each validated action and screen before the device:
                               the safety gate, the loop guard (issue 15) plug in here
      Timing                   observe_ms in the trajectory
      OrderEnforcing           observe/execute before reset is an error; closing twice is harmless
      FrameworkActions         terminate / answer / wait, once for every adapter
      DryRun(directory)        --dry-run: device verbs are drawn, not done (only when asked)
      *inner                   wrappers that stand in for the device failing (environments.faults.FaultyEnvironment)
        adapter                browser, desktop, android, canvas, replay: only its device's verbs

An adapter that must see every action, framework ones included (the replay environments, which compare
each action with a recording), says so with ``receives_framework_actions = True``; it gets no
`FrameworkActions` layer and no `DryRun` (it has no device to spare).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from environments.base import Environment
from environments.dryrun import DryRun
from environments.wrappers import FrameworkActions, OrderEnforcing, StepLimit, Timing, Wrapper

WrapperFactory = Callable[[Environment], Environment]


def make_env(
    adapter: Environment,
    *,
    max_steps: int,
    dry_run: str | Path | None = None,
    timing: bool = True,
    outer: Sequence[WrapperFactory] = (),
    inner: Sequence[WrapperFactory] = (),
) -> StepLimit:
    """``adapter`` wrapped as the module docstring draws it; ``outer``/``inner`` are applied in order
    (the first ends up innermost of its group)."""
    env: Environment = adapter
    for wrap in inner:
        env = wrap(env)
    if not getattr(adapter, "receives_framework_actions", False):
        if dry_run is not None:
            env = DryRun(env, dry_run)
        env = FrameworkActions(env)
    env = OrderEnforcing(env)
    if timing:
        env = Timing(env)
    for wrap in outer:
        env = wrap(env)
    return StepLimit(env, max_steps)


def is_composed(env: Environment) -> bool:
    """Whether ``env`` is already a stack built by `make_env` (it has a step budget)."""
    return isinstance(env, Wrapper) and env.find(StepLimit) is not None
