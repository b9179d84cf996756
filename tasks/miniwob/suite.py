"""Run MiniWoB++ episodes with a model: one shared browser, one trajectory and one result per episode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.loop import Agent, AgentConfig
from agent.models.base import Model
from agent.trajectory import TrajectoryWriter
from environments.make import make_env
from tasks.miniwob.task import DEFAULT_SCALE, TASK_AREA, MiniWoBEpisode, MiniWoBTask
from tasks.runner import Unit

SETTLE_TIMEOUT_MS = 1500  # some tasks animate forever (chase-circle); do not wait the browser's 3 s default


def open_browser(scale: float = DEFAULT_SCALE, *, headless: bool = True):
    """A browser whose viewport is exactly the 160x210 task area, at ``scale`` device px per CSS px."""
    from environments.browser import BrowserEnvironment

    return BrowserEnvironment(None, TASK_AREA, scale, headless=headless, settle_timeout_ms=SETTLE_TIMEOUT_MS)


def episode_result(state, agent_result) -> dict[str, Any]:
    """The results.jsonl fields of one episode. The page decides success, never the model's own claim:
    success iff the page ended the episode with a positive raw reward. An episode the page never ended
    (step limit, the model gave up) scores -1, as the page's own timer would have."""
    out: dict[str, Any] = {"steps": agent_result.steps, "agent_outcome": agent_result.outcome,
                           "error": agent_result.error, "fault": agent_result.fault}
    if agent_result.answer is not None:
        out["answer"] = agent_result.answer
    if state is not None and state.done:
        outcome = "success" if state.success else "failure"
        return out | {"outcome": outcome, "success": state.success, "reward": state.raw_reward,
                      "discounted_reward": state.reward, "reason": state.reason or agent_result.reason}
    if agent_result.outcome == "error":
        return out | {"outcome": "error", "success": False, "reward": None, "reason": agent_result.reason}
    outcome = "step_limit" if agent_result.outcome == "step_limit" else "failure"
    return out | {"outcome": outcome, "success": False, "reward": -1.0, "discounted_reward": -1.0,
                  "reason": f"the page did not end the episode; {agent_result.reason}"}


@dataclass(frozen=True)
class MiniWoBWorkers:
    """The runner's ``make_worker``: each worker gets a `MiniWoBSuite` with its own browser (started on
    its first episode, in its own thread); the model is shared (a server answers several at once)."""

    model: Model
    config: AgentConfig
    scale: float = DEFAULT_SCALE
    time_limit: float | str | None = None
    headless: bool = True

    def __call__(self, index: int) -> MiniWoBSuite:
        return MiniWoBSuite(self.model, self.config, scale=self.scale, time_limit=self.time_limit,
                            headless=self.headless)


class MiniWoBSuite:
    """Runs `Unit`s (task id, episode, seed) with ``model``; reopens the browser if it died."""

    def __init__(
        self,
        model: Model,
        config: AgentConfig,
        *,
        scale: float = DEFAULT_SCALE,
        time_limit: float | str | None = None,
        headless: bool = True,
        image_format: str = "png",
    ) -> None:
        self.model, self.config = model, config
        self.scale, self.time_limit, self.headless, self.image_format = scale, time_limit, headless, image_format
        self._browser = None

    def __enter__(self) -> MiniWoBSuite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None

    def browser(self):
        """The shared browser, started on first use and restarted when it no longer answers."""
        if self._browser is not None:
            try:
                self._browser.page.evaluate("() => 1")
            except Exception:  # noqa: BLE001 - a dead browser is replaced, whatever killed it
                self.close()
        if self._browser is None:
            self._browser = open_browser(self.scale, headless=self.headless)
        return self._browser

    def __call__(self, unit: Unit, directory: Path) -> dict[str, Any]:
        return self.run(unit, directory)

    def run(self, unit: Unit, directory: Path) -> dict[str, Any]:
        """One episode: set the page up, let the agent act until the page ends it, read the reward."""
        task = MiniWoBTask(unit.task, time_limit=self.time_limit)
        episode = MiniWoBEpisode(self.browser(), task, unit.seed)
        try:
            instruction = episode.start()
            recorder = TrajectoryWriter(directory, image_format=self.image_format)
            run_info = {"suite": "miniwob", "task": unit.task, "episode": unit.episode, "seed": unit.seed}
            env = make_env(episode, max_steps=self.config.max_steps)
            result = Agent(self.model, env, self.config, recorder).run(instruction, run_info=run_info)
            state = episode.state() if result.outcome != "error" else _state_or_none(episode)
        finally:
            episode.close()
        return {"instruction": instruction} | episode_result(state, result)


def _state_or_none(episode: MiniWoBEpisode):
    try:
        return episode.state()
    except Exception:  # noqa: BLE001 - after an error the page may be gone; the episode is an error then
        return None
