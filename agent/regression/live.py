"""Live replay: re-execute a recorded session against the live app, healing visual drift with the model.

Before each recorded step the live screen is compared with the recorded one (`similarity`). A match
repeats the recorded action, mapped exactly as it was recorded, without calling any model. A drift is
re-grounded (`heal`): the model performs the step's intent on the live screen, and the screen that
follows must match what the recording saw next, or the step fails. ``heal=False`` fails on the first
drift; ``max_heals`` bounds how many steps may be healed. Assertions are checked where they belong and
are never healed. The replay writes its own trajectory (same format as a model's run, so a healed
replay can become the new recording: `session.update`) and a `ReplayReport`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from agent.errors import ConfigError, EnvironmentFailure, ModelOutputError
from agent.geometry import MAX_PIXELS, MIN_PIXELS, Geometry
from agent.loop import _action_record, _now
from agent.mapping import to_command
from agent.prompt import history_entry
from agent.regression import assertions as checks
from agent.regression.heal import heal_step, target_crop
from agent.regression.report import AssertionReport, ReplayReport, StepReport, side_by_side
from agent.regression.similarity import (
    DEFAULT_TARGET_THRESHOLD,
    DEFAULT_THRESHOLD,
    Similarity,
    compare,
    reduced,
    target_box,
)
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.base import Observation, StepResult
from tools import get_tool

_BOXES = "(sels) => sels.flatMap((s) => [...document.querySelectorAll(s)].map((e) => { " \
         "const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }))"


@dataclass
class LiveOptions:
    heal: bool = True
    max_heals: int | None = None  # None: any number
    threshold: float = DEFAULT_THRESHOLD
    target_threshold: float = DEFAULT_TARGET_THRESHOLD
    masks: list[tuple[float, float, float, float]] = field(default_factory=list)
    mask_selectors: list[str] = field(default_factory=list)
    max_retries: int = 2


class LiveReplay:
    """Replays ``recorded`` on ``env``; ``model`` (or ``model_factory``, called at the first drift) heals."""

    def __init__(self, recorded: Trajectory, env: Any, out: Path, options: LiveOptions | None = None, *,
                 model: Any = None, model_factory: Any = None) -> None:
        from environments.wrappers import FrameworkActions, Wrapper

        # recorded terminate / answer / wait are replayed too: the framework handles them, not the adapter
        composed = isinstance(env, Wrapper) and env.find(FrameworkActions) is not None
        self.recorded, self.env, self.out = recorded, env if composed else FrameworkActions(env), Path(out)
        self.options = options or LiveOptions()
        self._model, self._model_factory = model, model_factory
        self.steps = [s for s in recorded.steps if s.get("action") and s.get("screenshot")]
        if not self.steps:
            raise ConfigError(f"{recorded.path} has no recorded steps with an action to replay")
        self.tool = get_tool(recorded.run.get("tool", "computer_use"))
        opts = recorded.run.get("options", {})
        self.min_pixels, self.max_pixels = opts.get("min_pixels", MIN_PIXELS), opts.get("max_pixels", MAX_PIXELS)
        self.assertions = checks.load(recorded.path)
        self.model_calls = 0
        self.history: list[str] = []

    # -- the replay ----------------------------------------------------------------------------------
    def run(self) -> ReplayReport:
        writer = TrajectoryWriter(self.out)
        report = ReplayReport(str(self.recorded.path), str(self.out), recorded_steps=len(self.steps))
        writer.start(self.recorded.run | {
            "started_at": _now(), "replay_of": str(self.recorded.path), "live": True,
            "environment": self.env.describe(),
        })
        thumbs = [self._thumb(s) for s in self.steps]
        result = {"outcome": "failure", "reason": "interrupted", "steps": 0}
        try:
            observation = self.env.reset()
            for i, step in enumerate(self.steps):
                t = time.perf_counter()
                line, observation, done = self._step(i, step, observation, thumbs, writer, report)
                line.seconds = round(time.perf_counter() - t, 4)
                report.steps.append(line)
                if line.status == "failed" or done:
                    break
            report.passed = all(s.status != "failed" for s in report.steps) and len(report.steps) == len(self.steps)
            if report.passed:
                self._final_assertions(observation, thumbs[-1], report)
            report.passed = report.passed and all(a.passed for a in report.assertions)
            report.reason = self._verdict(report)
            recorded_result = self.recorded.result or {}
            result = {"outcome": recorded_result.get("outcome", "success") if report.passed else "failure",
                      "reason": report.reason if not report.passed else recorded_result.get("reason", report.reason),
                      "steps": len(report.steps), "answer": recorded_result.get("answer"), "info": {}}
        except EnvironmentFailure as exc:
            report.passed, report.reason = False, f"the live app failed: {exc}"
            result = {"outcome": "error", "reason": report.reason, "steps": len(report.steps)}
        finally:
            report.model_calls = self.model_calls
            writer.finish(result | {"finished_at": _now(), "instruction": self.recorded.run.get("instruction", ""),
                                    "live_replay": {"passed": report.passed, "heals": report.heals,
                                                    "model_calls": self.model_calls}})
            report.html = _html(self.out)
            report.write()
        return report

    def _step(self, i: int, step: dict, observation: Observation, thumbs: list, writer: TrajectoryWriter,
              report: ReplayReport) -> tuple[StepReport, Observation, bool]:
        geometry = self._geometry(observation)
        name = step["action"]["action"]
        shot = writer.save_screenshot(i + 1, observation.screenshot)
        live_thumb = reduced(observation.screenshot)
        masks = self._masks()
        box = target_box(step)
        similarity = compare(thumbs[i], live_thumb, geometry.input.width, masks=masks, target=box)
        old = (step.get("screen_points") or {}).get("coordinate")
        line = StepReport(step["index"], name, "replayed", similarity.to_dict(), old_point=old,
                          recorded_screenshot=str(self.recorded.path / step["screenshot"]),
                          live_screenshot=str(self.out / shot))
        record: dict[str, Any] = {"index": i + 1, "screenshot": shot, "geometry": geometry.to_dict(),
                                  "image_tokens": 0, "observation": observation.info, "attempts": []}
        matched = similarity.matches(self.options.threshold, self.options.target_threshold)
        outcome: StepResult | None = None
        if matched:
            action = self.tool.validate(step["action"])
            command = to_command(action, Geometry.from_dict(step["geometry"]))
            outcome = self.env.execute(command)
            raw = (step.get("attempts") or [{}])[-1].get("raw", "")
            record["attempts"].append({"raw": raw, "feedback": None, "action": action.to_json_dict(), "replayed": True})
            record.update(_action_record(action, command))
            line.new_point = old
        elif name in ("terminate", "answer"):
            line.status, line.reason = "failed", self._drift_text(similarity, "the final screen differs from the recording")
        elif not self.options.heal:
            line.status, line.reason = "failed", self._drift_text(similarity, "the screen drifted (--no-heal)")
        elif self.options.max_heals is not None and report.heals >= self.options.max_heals:
            line.status, line.reason = "failed", self._drift_text(
                similarity, f"the screen drifted and --max-heals {self.options.max_heals} heals are used up")
        else:
            outcome = self._heal(i, step, observation, geometry, box, record, line)
        if outcome is not None:
            record["result"] = {"done": outcome.done, "outcome": outcome.outcome, "reason": outcome.reason,
                                "info": outcome.info}
            self.history.append(history_entry(self.tool.name, self.tool.validate(record["action"])))
        if line.status == "failed" and line.side_by_side is None:  # what differed, as a picture
            line.side_by_side = side_by_side(self.recorded.screenshot(step), step, observation.screenshot,
                                             {"geometry": geometry.to_dict()}, self.out / "drift" / f"{i + 1:04d}.png",
                                             live_title="live screen (not acted on)")
        record["replay"] = {"status": line.status, "similarity": line.similarity, "reason": line.reason}
        done = name in ("terminate", "answer") or line.status == "failed"
        next_observation = observation
        if not done:
            next_observation = self.env.observe()
            if line.status == "healed":
                self._verify(i, next_observation, thumbs, line, masks)
                record["replay"].update(status=line.status, reason=line.reason, next_similarity=line.next_similarity)
            if line.status != "failed":
                self._step_assertions(step["index"], next_observation, report)
        writer.append_step(record)
        return line, next_observation, done

    def _heal(self, i: int, step: dict, observation: Observation, geometry: Geometry, box: Any, record: dict,
              line: StepReport) -> StepResult | None:
        try:
            model = self._model_for_heal()
        except ConfigError as exc:
            line.status, line.reason = "failed", self._drift_text(Similarity(**line.similarity), str(exc))
            return None
        recorded_image = self.recorded.screenshot(step)
        crop = target_crop(recorded_image, Geometry.from_dict(step["geometry"]), box, geometry.model)
        heal = heal_step(model, self.env, self.tool, instruction=self.recorded.run.get("instruction", ""),
                         step=step, history=self.history, crop=crop, screenshot=observation.screenshot,
                         geometry=geometry, max_retries=self.options.max_retries)
        self.model_calls += heal.model_calls
        line.model_calls = heal.model_calls
        record["attempts"].extend(heal.attempts)
        if heal.command is None:
            line.status, line.reason = "failed", f"drifted, and the model could not re-ground the step: {heal.error}"
            return None
        record.update(_action_record(heal.action, heal.command))
        new = heal.command.point
        line.status, line.new_point = "healed", None if new is None else [new.x, new.y]
        line.reason = self._drift_text(Similarity(**line.similarity), "drifted; re-grounded by the model")
        line.side_by_side = side_by_side(recorded_image, step, observation.screenshot, record,
                                         self.out / "heals" / f"{i + 1:04d}.png")
        return heal.outcome

    def _verify(self, i: int, observation: Observation, thumbs: list, line: StepReport, masks: list) -> None:
        """A healed step must lead where the recording went: the next live screen matches the recorded next."""
        if i + 1 >= len(self.steps):
            return
        after = compare(thumbs[i + 1], reduced(observation.screenshot), observation.input_size.width, masks=masks)
        line.next_similarity = round(after.screen, 4)
        if after.screen < self.options.threshold:
            line.status = "failed"
            line.reason = (f"healed, but the screen after the healed action does not match what the recording saw "
                           f"next (similarity {after.screen:.3f} < {self.options.threshold}): a real regression?")

    # -- assertions ---------------------------------------------------------------------------------
    def _step_assertions(self, index: int, observation: Observation, report: ReplayReport) -> None:
        for a in self.assertions:
            if getattr(a, "after_step", None) == index and a.kind != "final_screen":
                report.assertions.append(self._check(a, observation, None))

    def _final_assertions(self, observation: Observation, final_thumb: Any, report: ReplayReport) -> None:
        for a in self.assertions:
            if a.kind == "final_screen" or (a.kind == "url" and a.after_step is None):
                report.assertions.append(self._check(a, observation, final_thumb))

    def _check(self, a: Any, observation: Observation, final_thumb: Any) -> AssertionReport:
        if a.kind == "text_visible":
            ok, detail = checks.text_visible(self.env, a.text, self._ask, observation)
        elif a.kind == "url":
            ok, detail = checks.url_matches(self.env, a.pattern, observation)
        else:
            masks = list(a.masks) + self._masks(a.mask_selectors)
            s = compare(final_thumb, reduced(observation.screenshot), observation.input_size.width, masks=masks)
            ok, detail = s.screen >= a.threshold, f"similarity {s.screen:.3f}"
        return AssertionReport(a.describe(), ok, detail, getattr(a, "after_step", None))

    def _ask(self, question: str, observation: Observation) -> str:
        """A yes/no question to the model about the live screen (no DOM to read)."""
        from agent.prompt import build_prompt

        geometry = self._geometry(observation)
        from agent.imaging import to_model_image

        prompt = build_prompt(self.tool, question, [], [to_model_image(observation.screenshot, geometry.model)],
                              geometry.model)
        self.model_calls += 1
        from agent.loop import Agent

        try:
            action = Agent._parse(self.tool, self._model_for_heal().generate(prompt).text, {})
        except ModelOutputError as exc:
            return f"(no usable answer: {exc})"
        return getattr(action, "text", action.action)

    # -- helpers ------------------------------------------------------------------------------------
    def _model_for_heal(self) -> Any:
        if self._model is None:
            if self._model_factory is None:
                raise ConfigError("the live screen drifted from the recording and no model is configured to heal it: "
                                  "pass --base-url/--model, or --no-heal to fail on drift")
            self._model = self._model_factory()
        return self._model

    def _geometry(self, observation: Observation) -> Geometry:
        return Geometry.for_screenshot(observation.screenshot_size, observation.input_size,
                                       min_pixels=self.min_pixels, max_pixels=self.max_pixels, origin=observation.origin)

    def _masks(self, selectors: list[str] | None = None) -> list[tuple[float, float, float, float]]:
        selectors = self.options.mask_selectors if selectors is None else selectors
        boxes = list(self.options.masks) if selectors is self.options.mask_selectors else []
        if selectors:
            page = checks.page_of(self.env)
            if page is None:
                raise ConfigError("--mask-selector needs the browser environment; use --mask x0,y0,x1,y1 elsewhere")
            boxes += [tuple(b) for b in page.evaluate(_BOXES, list(selectors))]
        return boxes

    def _thumb(self, step: dict) -> Any:
        with Image.open(self.recorded.path / step["screenshot"]) as image:
            return reduced(image)

    def _drift_text(self, s: Similarity, what: str) -> str:
        target = "" if s.target is None else f", target {s.target:.3f} (needs {self.options.target_threshold})"
        return f"{what}: screen similarity {s.screen:.3f} (needs {self.options.threshold}){target}"

    def _verdict(self, report: ReplayReport) -> str:
        failed = report.failed_step
        if failed:
            return f"step {failed.index} failed: {failed.reason}"
        bad = [a for a in report.assertions if not a.passed]
        if bad:
            return f"assertion failed: {bad[0].description} ({bad[0].detail})"
        if len(report.steps) < len(self.steps):
            return f"stopped after {len(report.steps)} of {len(self.steps)} steps"
        return f"{len(report.steps)} steps reproduced, {report.heals} healed, {self.model_calls} model calls"


def _html(out: Path) -> str | None:
    """The viewer's page of the replay's trajectory (every step's screenshot with where it acted)."""
    try:
        from agent.viewer import write_trajectory_report
    except ImportError:  # the viewer is optional (jinja2)
        return None
    try:
        return str(write_trajectory_report(out))
    except Exception:  # noqa: BLE001 - the verdict matters more than its page
        return None
