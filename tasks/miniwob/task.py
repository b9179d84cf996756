"""MiniWoB++ tasks as lifecycle objects (setup / check / teardown) over the pages the `miniwob` wheel ships.

The pages are driven in our own `BrowserEnvironment`, not through the wheel's Selenium gym: a page is
loaded from ``file://`` (core.js needs no server for the 128 tasks in ``html/miniwob``), seeded with
``Math.seedrandom(seed)`` and started with ``core.startEpisodeReal()``; the instruction is
``core.getUtterance()``; reward and done are the page's own globals.

Screen: the task lives in the top-left 160x210 CSS px. The viewport is exactly that, and the browser
renders it at ``scale`` device pixels per CSS px (default 3: a 480x630 screenshot, 476x616 in model
space, ~370 image tokens). Text is rasterised sharply at that density rather than upscaled, and input
stays in CSS px, so the geometry is the plain HiDPI case the framework already maps exactly; CSS zoom
would change the page's own coordinate arithmetic (drag tasks read pageX and element offsets).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from agent.errors import ConfigError, EnvironmentFailure
from agent.geometry import Size
from environments.base import Command, Environment, Observation, StepResult
from environments.wrappers import Wrapper

TASK_AREA = Size(160, 210)  # CSS px, top-left of every MiniWoB++ page
DEFAULT_SCALE = 3.0
NO_LIMIT_MS = 10 * 24 * 3600 * 1000  # "no time limit": 10 days, under setTimeout's 2**31 ms ceiling
LOAD_TIMEOUT_MS = 10_000

# Set the page's episode timer, seed the page's PRNG and start. The reward HUD and the click canvas sit
# beside the task area (x >= 165, outside the viewport) for human viewers; left in place they widen the
# page, and a task that focuses a widget on start (click-dialog) scrolls the task area out of view.
_START = """([seed, limitMs]) => {
  if (limitMs !== null) core.EPISODE_MAX_TIME = limitMs;
  Math.seedrandom(seed);
  core.startEpisodeReal();
  for (const id of ['reward-display', 'click-canvas']) {
    const el = document.getElementById(id);
    if (el) el.style.display = 'none';
  }
  window.scrollTo(0, 0);
  return core.EPISODE_MAX_TIME;
}"""
_STATE = """() => ({done: WOB_DONE_GLOBAL, raw: WOB_RAW_REWARD_GLOBAL, reward: WOB_REWARD_GLOBAL,
  reason: WOB_REWARD_REASON === null || WOB_REWARD_REASON === undefined ? null : String(WOB_REWARD_REASON)})"""


@cache
def html_dir() -> Path:
    """``miniwob/html/miniwob`` inside the installed wheel."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.origin:
        raise ConfigError("the MiniWoB++ pages come from the `miniwob` package, which is not installed; "
                          "install it with `pip install 'qwen-gui-agent[browser]'` (or `pip install miniwob`)")
    path = Path(spec.origin).parent / "html" / "miniwob"
    if not (path / "click-button.html").is_file():
        raise ConfigError(f"the installed miniwob package has no task pages in {path}; reinstall it")
    return path


@cache
def task_ids() -> tuple[str, ...]:
    """Every task id the wheel ships, sorted (``click-button``, ``enter-text``, ...)."""
    return tuple(sorted(p.stem for p in html_dir().glob("*.html")))


def check_task_ids(ids: list[str]) -> list[str]:
    """``ids`` if all exist; otherwise a `ConfigError` naming the unknown ones and close matches."""
    known = set(task_ids())
    unknown = [i for i in ids if i not in known]
    if unknown:
        hints = [f"{i} (did you mean {', '.join(m)}?)" if (m := difflib.get_close_matches(i, known, 3)) else i
                 for i in unknown]
        raise ConfigError(f"unknown MiniWoB++ task: {'; '.join(hints)}. `gui-agent eval miniwob --list` "
                          "prints all task ids.")
    return ids


@dataclass(frozen=True)
class PageState:
    """The page's reward globals. ``raw_reward`` is in [-1, 1]; ``reward`` is the time-discounted one."""

    done: bool
    raw_reward: float
    reward: float
    reason: str | None = None

    @property
    def success(self) -> bool:
        return self.done and self.raw_reward > 0

    def to_dict(self) -> dict[str, Any]:
        return {"done": self.done, "raw_reward": self.raw_reward, "reward": self.reward, "reward_reason": self.reason}


class MiniWoBTask:
    """One MiniWoB++ task: loads its page into a browser environment, starts seeded episodes, reads reward.

    ``time_limit``: None switches the page's episode timer off (a model that thinks for 30 s per step
    would otherwise always time out; the time-discounted reward then equals the raw one), ``"task"``
    keeps the task's own limit (10-30 s, the benchmark's original rule), a number sets that many seconds.
    """

    def __init__(self, task_id: str, *, time_limit: float | str | None = None) -> None:
        check_task_ids([task_id])
        if time_limit not in (None, "task") and not (isinstance(time_limit, (int, float)) and time_limit > 0):
            raise ConfigError(f"--time-limit must be 'none', 'task' or a positive number of seconds, got {time_limit!r}")
        self.id, self.time_limit = task_id, time_limit
        self.url = (html_dir() / f"{task_id}.html").as_uri()

    @property
    def _limit_ms(self) -> int | None:
        if self.time_limit == "task":
            return None
        return NO_LIMIT_MS if self.time_limit is None else round(float(self.time_limit) * 1000)

    def setup(self, env: Any, seed: int) -> str:
        """Load a fresh copy of the page (no state leaks between episodes), start episode ``seed``, and
        return its instruction. ``env`` is a `BrowserEnvironment` (``.page``, ``.goto``)."""
        env.goto(self.url)
        page = env.page
        try:
            page.wait_for_function("() => window.core && document.getElementById('sync-task-cover')",
                                   timeout=LOAD_TIMEOUT_MS)
            self.episode_ms = page.evaluate(_START, [seed, self._limit_ms])
            page.wait_for_function("() => WOB_TASK_READY", timeout=LOAD_TIMEOUT_MS)
            instruction = page.evaluate("() => core.getUtterance()")
        except Exception as exc:
            raise EnvironmentFailure(f"MiniWoB++ task {self.id} did not start: {str(exc).splitlines()[0]}") from None
        if hasattr(env, "settle"):
            env.settle()  # some tasks animate their widgets in
        return instruction

    def check(self, env: Any) -> PageState:
        """The page's own verdict, read from its globals."""
        try:
            state = env.page.evaluate(_STATE)
        except Exception as exc:
            raise EnvironmentFailure(f"could not read the MiniWoB++ reward: {str(exc).splitlines()[0]}") from None
        return PageState(bool(state["done"]), float(state["raw"]), float(state["reward"]), state["reason"])

    def teardown(self, env: Any) -> None:
        """Stop the page's timers so nothing runs on between episodes."""
        with contextlib.suppress(Exception):  # a page that is gone has no timers either
            env.page.evaluate("() => { if (!WOB_DONE_GLOBAL) core.endEpisode(0, false, 'episode closed'); }")

    def describe(self) -> dict[str, Any]:
        return {"suite": "miniwob", "task": self.id, "url": self.url, "time_limit": self.time_limit}


class MiniWoBEpisode(Wrapper):
    """One seeded episode of ``task`` on a browser environment, ended by the page.

    ``start()`` sets the page up and returns the instruction; ``reset()`` uses that fresh page (or starts
    again). After every executed action the page's globals are read; once ``WOB_DONE_GLOBAL`` is true the
    step returns ``done`` with outcome success iff the raw reward is positive. A page that ended by itself
    between steps (timer, delayed check) ends the episode before the next action touches the START cover.
    """

    def __init__(self, env: Environment, task: MiniWoBTask, seed: int) -> None:
        super().__init__(env)
        self.task, self.seed = task, seed
        self.instruction: str | None = None
        self._fresh = False

    def start(self) -> str:
        self.instruction = self.task.setup(self.env, self.seed)
        self._fresh = True
        return self.instruction

    def reset(self) -> Observation:
        if not self._fresh:
            self.start()
        self._fresh = False
        return self.env.observe()

    def execute(self, command: Command) -> StepResult:
        self._fresh = False
        state = self.task.check(self.env)
        if state.done:
            return self._ended(state, StepResult(), acted=False)
        result = self.env.execute(command)
        state = self.task.check(self.env)
        return self._ended(state, result) if state.done else result

    def state(self) -> PageState:
        return self.task.check(self.env)

    def close(self) -> None:
        self.task.teardown(self.env)  # the browser is shared by many episodes: leave it open

    def describe(self) -> dict[str, Any]:
        return self.env.describe() | {"task": self.task.describe(), "seed": self.seed}

    @staticmethod
    def _ended(state: PageState, result: StepResult, acted: bool = True) -> StepResult:
        verdict = "succeeded" if state.success else "failed"
        reason = f"the MiniWoB++ page ended the episode: {verdict}, raw reward {state.raw_reward:+.2f}"
        if state.reason:
            reason += f" ({state.reason})"
        if not acted:
            reason += "; it ended before this action, which was not carried out"
        return StepResult(True, "success" if state.success else "failure", reason, result.info | state.to_dict())
