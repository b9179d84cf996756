"""Environments that serve a recorded session's screenshots.

`ReplayEnvironment` re-runs a recording and insists every executed action matches it (with
`ReplayModel`, a recorded session re-runs offline and deterministically). `ReplayEvaluation` lets a
*new* model answer on the recorded screenshots and scores each answer against the recorded action,
the offline step-by-step evaluation AndroidControl-style benchmarks use.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from agent.errors import ReplayMismatch
from agent.geometry import ScreenPoint, Size
from agent.trajectory import Trajectory
from environments.base import Command, EnvironmentBase, Observation, StepResult

POINT_TOLERANCE = 0.5  # input-space pixels: a replay must reproduce points, not merely approximate them
DEFAULT_RADIUS = 0.14  # AndroidControl-style: a click counts within 14% of the screen (normalised distance)
DEFAULT_MIN_ACCURACY = 1.0  # a replay evaluation passes when every recorded step is matched, unless told otherwise


class _Recorded(EnvironmentBase):
    receives_framework_actions = True  # terminate, answer and wait are compared with the recording too

    def __init__(self, source: str | Path | Trajectory) -> None:
        self.trajectory = source if isinstance(source, Trajectory) else Trajectory.load(source)
        self.steps = [s for s in self.trajectory.steps if self._serves(s)]
        if not self.steps:
            raise ReplayMismatch(f"{self.trajectory.path} has no recorded steps with an action to replay")
        self.tool = self.trajectory.run.get("tool", "computer_use")
        self.index = 0

    def reset(self) -> Observation:
        self.index = 0
        return self.observe()

    def observe(self) -> Observation:
        if self.index >= len(self.steps):
            raise ReplayMismatch(f"the recording has only {len(self.steps)} step{'' if len(self.steps) == 1 else 's'}; the replay asked for more")
        step = self.steps[self.index]
        geometry = step["geometry"]
        return Observation(
            self.trajectory.screenshot(step),
            Size(*geometry["input"]),
            tuple(geometry.get("origin", (0, 0))),
            {"recorded_step": step["index"], "screenshot_file": str(self.trajectory.path / step["screenshot"])},
        )

    def describe(self) -> dict[str, Any]:
        return {"kind": type(self).__name__, "source": str(self.trajectory.path), "steps": len(self.steps)}

    @staticmethod
    def _serves(step: dict[str, Any]) -> bool:
        """Scoring needs a recorded action on each step served."""
        return bool(step.get("action") and step.get("screenshot"))


class ReplayEnvironment(_Recorded):
    """Serves recorded screenshots; raises `ReplayMismatch` when an action differs from the recording.

    A last step that has a screenshot but no executed action (the recorded run ended there: the model
    gave nothing usable, the server hung, the process was killed) is served too, so its failure can be
    reproduced. ``diverged`` says whether the replay ever did something other than the recording —
    running past the end of an unfinished recording is not diverging.
    """

    def __init__(self, source: str | Path | Trajectory) -> None:
        super().__init__(source)
        self.diverged: str | None = None

    @staticmethod
    def _serves(step: dict[str, Any]) -> bool:
        return bool(step.get("screenshot"))

    @property
    def executed(self) -> int:
        """Recorded actions reproduced so far."""
        return self.index

    @property
    def recorded_actions(self) -> int:
        return sum(bool(s.get("action")) for s in self.steps)

    def _diverge(self, message: str) -> ReplayMismatch:
        self.diverged = message
        return ReplayMismatch(message)

    def execute(self, command: Command) -> StepResult:
        step = self.steps[self.index]
        expected, got = step.get("action"), command.action.to_json_dict()
        if expected is None:
            raise ReplayMismatch(f"step {step['index']}: the recording ends here without an executed action "
                                 f"(the replay did {got})")
        if expected != got:
            raise self._diverge(f"step {step['index']}: recorded {expected}, replay did {got}")
        for name, point in (("coordinate", command.point), ("coordinate2", command.end)):
            recorded = step.get("screen_points", {}).get(name)
            if recorded and (point is None or math.dist(recorded, (point.x, point.y)) > POINT_TOLERANCE):
                raise self._diverge(f"step {step['index']}: {name} recorded at {recorded}, replayed at {point}")
        self.index += 1
        recorded = step.get("result") or {}
        return StepResult(bool(recorded.get("done")), recorded.get("outcome"), recorded.get("reason", ""), recorded.get("info", {}))


class ReplayEvaluation(_Recorded):
    """Scores each executed action against the recorded one, then moves on to the next recorded step.

    A step matches when the action type is the same and: a click lands inside the recorded target box
    (``result.info.target_box``, input space) or, with no box, within ``radius`` of the recorded point in
    normalised screen coordinates; typed text and answers match after trimming and case-folding; keys
    match as a set; scrolls and swipes go the same way; terminate has the same status.
    """

    def __init__(self, source: str | Path | Trajectory, radius: float = DEFAULT_RADIUS,
                 min_accuracy: float = DEFAULT_MIN_ACCURACY) -> None:
        super().__init__(source)
        self.radius = radius
        self.min_accuracy = min_accuracy
        self.scores: list[dict[str, Any]] = []

    def reset(self) -> Observation:
        self.scores = []
        return super().reset()

    def execute(self, command: Command) -> StepResult:
        """Score the action; when the recording is used up (or the model terminates) the score is the verdict:
        "success" iff the step accuracy reaches ``min_accuracy``, "failure" otherwise."""
        step = self.steps[self.index]
        match, why = self._match(step, command)
        verdict = {"step": step["index"], "match": match, "why": why, "expected": step["action"],
                   "got": command.action.to_json_dict()}
        self.scores.append(verdict)
        self.index += 1
        if self.index < len(self.steps) and command.name != "terminate":
            return StepResult(info={"verdict": verdict})
        return StepResult(True, "success" if self.passed else "failure", self.summary_text(),
                          {"verdict": verdict, **self.summary()})

    @property
    def passed(self) -> bool:
        return self.summary()["step_accuracy"] >= self.min_accuracy

    def summary(self) -> dict[str, Any]:
        """The score so far; steps never reached (the run ended early) count as not matched."""
        matched = sum(s["match"] for s in self.scores)
        return {
            "recorded_steps": len(self.steps),
            "scored_steps": len(self.scores),
            "matched_steps": matched,
            "step_accuracy": matched / len(self.steps),
            "type_matches": sum(s["why"] != "different action" for s in self.scores),
            "min_accuracy": self.min_accuracy,
            "passed": matched / len(self.steps) >= self.min_accuracy,
            "scores": list(self.scores),
        }

    def summary_text(self) -> str:
        s = self.summary()
        return (f"{s['matched_steps']} of {s['recorded_steps']} recorded steps matched ({s['step_accuracy']:.0%}; "
                f"needed {self.min_accuracy:.0%})")

    def _match(self, step: dict[str, Any], command: Command) -> tuple[bool, str]:
        expected, got = step["action"], command.action.to_json_dict()
        if expected["action"] != got["action"]:
            return False, "different action"
        size = Size(*step["geometry"]["input"])
        box = (step.get("result") or {}).get("info", {}).get("target_box")
        for name, point in (("coordinate", command.point), ("coordinate2", command.end)):
            recorded = step.get("screen_points", {}).get(name)
            if recorded is None:
                continue
            if point is None:
                return False, f"no {name}"
            if name == "coordinate" and box:
                if not (box[0] <= point.x <= box[2] and box[1] <= point.y <= box[3]):
                    return False, "click outside the recorded target"
            elif _normalised_distance(point, recorded, size) > self.radius:
                return False, f"{name} farther than {self.radius:.0%} of the screen"
        for field in ("text", "status", "button"):
            if field in expected and str(expected[field]).strip().casefold() != str(got.get(field, "")).strip().casefold():
                return False, f"different {field}"
        if "keys" in expected and {k.lower() for k in expected["keys"]} != {k.lower() for k in got.get("keys", [])}:
            return False, "different keys"
        if "pixels" in expected and (expected["pixels"] > 0) != (got.get("pixels", 0) > 0):
            return False, "scrolls the other way"
        return True, "match"


def _normalised_distance(point: ScreenPoint, recorded: list[float], size: Size) -> float:
    return math.hypot((point.x - recorded[0]) / size.width, (point.y - recorded[1]) / size.height)
