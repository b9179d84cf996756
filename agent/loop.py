"""The observe-think-act loop. Each arrow of the step is a call into its own module."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from agent.errors import ConfigError, Fault, ModelOutputError, StepBudgetExceeded, fault_of
from agent.exits import Exit, for_outcome
from agent.geometry import MAX_PIXELS, MIN_PIXELS, Geometry
from agent.imaging import ModelImageCache
from agent.mapping import to_command
from agent.models.base import Model
from agent.parser import parse_tool_calls
from agent.prompt import build_prompt, history_entry
from agent.trajectory import NullRecorder, Recorder
from environments.base import Environment, Observation
from environments.make import is_composed, make_env
from tools import get_tool
from tools.base import EXTENSIONS, Action, Tool

Outcome = Literal["success", "failure", "step_limit", "stuck", "stopped", "error"]


@dataclass(frozen=True)
class AgentConfig:
    max_steps: int = 20  # 0 only as "no cap of my own" for suites that give each task a budget (Android)
    max_retries: int = 2  # further tries per step after an unusable answer, each told what was wrong
    min_pixels: int = MIN_PIXELS
    max_pixels: int = MAX_PIXELS
    history_images: int = 1  # screenshots in the prompt, newest last (cookbooks: 1; OSWorld: 4)
    reasoning: bool = False
    # deliberate differences from the cookbook schema that are on (tools.base.EXTENSIONS); () = the cookbook's
    tool_extensions: tuple[str, ...] = EXTENSIONS

    def __post_init__(self) -> None:
        """Refuse values that would silently do something else (a 0-step run, no screenshot in the prompt)."""
        problems = [f"--{name.replace('_', '-')} must be at least {low}, got {value}" for name, value, low in (
            ("max_steps", self.max_steps, 0), ("max_retries", self.max_retries, 0),
            ("history_images", self.history_images, 1), ("min_pixels", self.min_pixels, 1))
            if value < low]
        if self.max_pixels < self.min_pixels:
            problems.append(f"--max-pixels ({self.max_pixels}) is below --min-pixels ({self.min_pixels})")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass(frozen=True)
class EpisodeResult:
    """How an episode ended. ``error`` names the class of the error that ended it and ``fault`` who is to
    blame (model, environment, user, server), so callers decide by type, never by searching ``reason``;
    ``exception`` is the error itself (not serialised)."""

    outcome: Outcome
    reason: str
    steps: int
    answer: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    fault: Fault | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_exception(cls, outcome: Outcome, reason: str, steps: int, answer: str | None,
                       exc: BaseException) -> EpisodeResult:
        return cls(outcome, reason, steps, answer, error=type(exc).__name__, fault=fault_of(exc), exception=exc)

    @property
    def exit_code(self) -> Exit:
        return for_outcome(self.outcome)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "exception"}


@dataclass
class _Episode:
    instruction: str
    tool: Tool
    images: deque
    model_images: ModelImageCache = field(default_factory=ModelImageCache)  # incremental resize per run
    history: list[str] = field(default_factory=list)
    answer: str | None = None
    steps: int = 0
    handshake: dict[str, Any] | None = None  # the model's handshake as last recorded in a step


class Agent:
    """Runs one instruction on one environment with one model, recording every step.

    ``env`` is the stack `environments.make.make_env` builds (step budget, framework actions, dry run,
    ...); a bare adapter is given the default stack for ``config.max_steps``, so a script may pass either.
    """

    def __init__(
        self,
        model: Model,
        env: Environment,
        config: AgentConfig | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.model = model
        self.config = config or AgentConfig()
        if self.config.max_steps < 1:
            raise ConfigError(f"--max-steps must be at least 1, got {self.config.max_steps}")
        self.env = env if is_composed(env) else make_env(env, max_steps=self.config.max_steps)
        self.recorder = recorder or NullRecorder()

    def run(self, instruction: str, *, run_info: dict[str, Any] | None = None) -> EpisodeResult:
        tool = get_tool(self.env.tool).with_extensions(self.config.tool_extensions)
        episode = _Episode(instruction, tool, deque(maxlen=max(1, self.config.history_images)))
        self.recorder.start(self._run_record(instruction, run_info or {}))
        result = EpisodeResult("error", "interrupted before the first step", 0)
        try:
            observation = self.env.reset()
            while True:
                done = self._step(episode, observation)
                if done is not None:
                    result = done
                    break
                observation = self.env.observe()
        except StepBudgetExceeded as exc:
            result = EpisodeResult.from_exception("step_limit", str(exc), episode.steps, episode.answer, exc)
        except ModelOutputError as exc:  # the model's failure, not the infrastructure's: no rerun cures it
            result = EpisodeResult.from_exception(
                "failure", f"the model gave no usable answer in {self.config.max_retries + 1} tries: {exc}",
                episode.steps, episode.answer, exc,
            )
        except KeyboardInterrupt as exc:
            result = EpisodeResult.from_exception("error", "interrupted by the user", episode.steps, episode.answer, exc)
            raise
        except Exception as exc:  # noqa: BLE001 - any failure ends the episode as "error", recorded
            result = EpisodeResult.from_exception(
                "error", f"{type(exc).__name__}: {exc}", episode.steps, episode.answer, exc)
            if isinstance(exc, ConfigError):
                raise
        finally:
            record = result.to_dict() | {"finished_at": _now(), "instruction": instruction}
            if isinstance(handshake := getattr(self.model, "handshake", None), dict):
                record["handshake"] = dict(handshake)  # run.json holds it as it was before the first request
            self.recorder.finish(record)
        return result

    def _step(self, episode: _Episode, observation: Observation) -> EpisodeResult | None:
        """One step: prompt → model → parse → validate → map → execute → record. None: keep going."""
        episode.steps += 1
        timings: dict[str, float] = {}
        t = time.perf_counter()
        geometry = Geometry.for_screenshot(
            observation.screenshot_size,
            observation.input_size,
            min_pixels=self.config.min_pixels,
            max_pixels=self.config.max_pixels,
            origin=observation.origin,
        )
        episode.images.append(episode.model_images.model_image(
            observation.screenshot, geometry.model, observation.frame, observation.damage,
        ))
        timings["resize"] = time.perf_counter() - t
        t = time.perf_counter()
        screenshot_path = self.recorder.save_screenshot(
            episode.steps, observation.screenshot, observation.info.get("screenshot_file"),
            frame=observation.frame, damage=observation.damage,
        )
        timings["save_screenshot"] = time.perf_counter() - t
        record: dict[str, Any] = {
            "index": episode.steps,
            "screenshot": screenshot_path,
            "geometry": geometry.to_dict(),
            "image_tokens": geometry.image_tokens * len(episode.images),
            "observation": observation.info,
            "attempts": [],
        }
        try:
            action, command, outcome = self._act(episode, geometry, record, timings)
        finally:
            record["timings"] = {k: round(v, 6) for k, v in timings.items()}
            handshake = getattr(self.model, "handshake", None)
            if isinstance(handshake, dict) and handshake != episode.handshake:  # its outcome, in the step that got it
                record["handshake"] = episode.handshake = dict(handshake)
            self.recorder.append_step(record)
        if action.action == "answer":
            episode.answer = action.text
        if outcome.done and outcome.outcome:  # the environment's verdict (a score, the page's end) outranks a claim
            return EpisodeResult(outcome.outcome, outcome.reason, episode.steps, episode.answer, outcome.info)
        if action.action == "terminate":
            return EpisodeResult(
                action.status, f"the model's own claim: it terminated with status {action.status}", episode.steps,
                episode.answer, outcome.info,
            )
        if outcome.done:
            return EpisodeResult("success", outcome.reason, episode.steps, episode.answer, outcome.info)
        return None

    def _act(self, episode: _Episode, geometry: Geometry, record: dict, timings: dict):
        feedback = None
        retrying = Retrying(
            stop=stop_after_attempt(self.config.max_retries + 1),
            retry=retry_if_exception_type(ModelOutputError),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                t = time.perf_counter()
                prompt = build_prompt(
                    episode.tool, episode.instruction, episode.history, list(episode.images), geometry.model,
                    feedback=feedback, reasoning=self.config.reasoning,
                )
                timings["prompt"] = timings.get("prompt", 0) + time.perf_counter() - t
                t = time.perf_counter()
                generation = self.model.generate(prompt)
                timings["model"] = timings.get("model", 0) + time.perf_counter() - t
                tried = {"raw": generation.text, "feedback": feedback}
                if generation.finish_reason:
                    tried["finish_reason"] = generation.finish_reason
                record["attempts"].append(tried)
                try:
                    t = time.perf_counter()
                    action = self._parse(episode.tool, generation.text, tried, cut_off=generation.cut_off)
                    command = to_command(action, geometry)
                    timings["parse"] = timings.get("parse", 0) + time.perf_counter() - t
                    tried["action"] = action.to_json_dict()
                    t = time.perf_counter()
                    outcome = self.env.execute(command)
                    timings["execute"] = time.perf_counter() - t
                except ModelOutputError as exc:
                    tried["error"] = feedback = str(exc)  # the next try's prompt carries it
                    raise
                record.update(_action_record(action, command))  # only what was really executed
                record["result"] = {
                    "done": outcome.done, "outcome": outcome.outcome, "reason": outcome.reason, "info": outcome.info,
                } | ({"notes": list(outcome.notes)} if outcome.notes else {})
                entry = history_entry(episode.tool.name, action, generation.text, reasoning=self.config.reasoning,
                                      complete=not generation.cut_off)
                episode.history.append(entry + (f" ({'; '.join(outcome.notes)})" if outcome.notes else ""))
        return action, command, outcome

    @staticmethod
    def _parse(tool: Tool, text: str, tried: dict, *, cut_off: bool = False) -> Action:
        calls = parse_tool_calls(text, cut_off=cut_off)
        call = calls[0]
        if call.name not in (None, tool.name):
            raise ModelOutputError(f"unknown function {call.name!r}; call {tool.name}")
        if len(calls) > 1:
            tried["ignored_calls"] = len(calls) - 1  # one action per step; the rest come from the next screenshot
        return tool.validate(call.arguments)

    def _run_record(self, instruction: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "instruction": instruction,
            "started_at": _now(),
            "tool": self.env.tool,
            "model": self.model.describe(),
            "environment": self.env.describe(),
            "wrappers": self.env.layers(),
            "options": asdict(self.config),
            "versions": package_versions(),
            **extra,
        }


def _action_record(action: Action, command) -> dict[str, Any]:
    return {
        "action": action.to_json_dict(),
        "model_points": {k: list(v) for k, v in action.points().items()},
        "screen_points": {
            k: [p.x, p.y] for k, p in (("coordinate", command.point), ("coordinate2", command.end)) if p is not None
        },
    }


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("qwen-gui-agent", "torch", "transformers", "pydantic", "playwright", "mss", "pyautogui", "adbutils"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
