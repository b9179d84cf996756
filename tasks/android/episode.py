"""Run one Android task episode: set up, let the agent act, score from device state, tear down."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agent.loop import Agent, AgentConfig
from agent.models.base import Model
from agent.trajectory import TrajectoryWriter
from environments.android.device import DeviceUnavailable
from environments.make import make_env
from tasks.android.base import AndroidTask
from tasks.android.suite import REGISTRY
from tasks.runner import Unit


def run_task(task: AndroidTask, env, model: Model, config: AgentConfig, directory: str | Path) -> dict[str, Any]:
    """One episode of ``task`` on ``env``; the result dict the suite runner records.

    The step budget is the task's (10 × complexity) unless ``config.max_steps`` is lower. The score is
    read from the device even when the agent terminated with "failure" (it may be wrong about itself),
    but not after an environment error (the device may be gone).
    """
    task.check_device(env)
    task.setup(env)
    try:
        steps = min(task.max_steps, config.max_steps) if config.max_steps else task.max_steps
        agent = Agent(model, make_env(env, max_steps=steps), replace(config, max_steps=steps),
                      TrajectoryWriter(directory))
        result = agent.run(task.goal, run_info={"task": task.id, "params": task.params})
        reward = task.is_successful(Answered(env, result.answer)) if result.outcome != "error" else 0.0
    finally:
        if result_ok_to_teardown(locals()):
            task.teardown(env)
    return {
        "outcome": result.outcome if result.outcome == "error" else ("success" if reward >= 1 else "failure"),
        "agent_outcome": result.outcome, "success": reward >= 1, "reward": reward, "steps": result.steps,
        "reason": result.reason, "error": result.error, "fault": result.fault, "goal": task.goal,
        "answer": result.answer, "params": task.params,
    }


@dataclass(frozen=True)
class Answered:
    """The device as a task's check sees it: its shell, and the agent's answer from the episode."""

    env: Any
    last_answer: str | None

    def shell(self, command: str, **kwargs: Any) -> Any:
        return self.env.shell(command, **kwargs)


def result_ok_to_teardown(scope: dict[str, Any]) -> bool:
    """Tear down unless the device itself failed (then there is nothing to talk to)."""
    result = scope.get("result")
    return result is None or not isinstance(result.exception, DeviceUnavailable)


class AndroidSuite:
    """Runs `Unit`s (task id, episode, seed) on one device with one model; ``run`` is the runner's callback."""

    def __init__(self, env, model: Model, config: AgentConfig) -> None:
        self.env, self.model, self.config = env, model, config

    def run(self, unit: Unit, directory: Path) -> dict[str, Any]:
        task = REGISTRY[unit.task].sample(unit.seed)
        return run_task(task, self.env, self.model, self.config, directory)


@dataclass(frozen=True)
class AndroidWorkers:
    """The runner's ``make_worker``: worker ``i`` drives device ``serials[i]`` (its own adb connection,
    opened in its own thread); the model is shared."""

    model: Model
    config: AgentConfig
    serials: tuple[str | None, ...]
    host: str | None = None
    port: int | None = None
    capture: str = "png"
    settle: float = 0.3

    def __call__(self, index: int) -> AndroidWorker:
        from environments.android.env import AndroidEnvironment

        env = AndroidEnvironment(self.serials[index], self.host, self.port, capture=self.capture, settle=self.settle)
        return AndroidWorker(AndroidSuite(env, self.model, self.config))


@dataclass
class AndroidWorker:
    suite: AndroidSuite

    def __call__(self, unit: Unit, directory: Path) -> dict[str, Any]:
        return self.suite.run(unit, directory)

    def close(self) -> None:
        self.suite.env.close()
