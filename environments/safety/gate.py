"""`SafetyGate`: sees every validated action before the environment does, and decides.

Denied actions never reach the environment; the step is recorded with the decision (``info["gate"]``)
and the model reads why in its history. ``ask`` goes to a person (`TerminalConfirm`, ``--confirm``) or,
with nobody to ask, is denied. Navigation outside the browser's allowlist is blocked by the browser
itself for every cause (a click, a form, a script, a new tab); the gate records it and tells the model.
On Android, ``allow_apps`` limits ``open`` and, after every action, the app in front: one reached some
other way (a tap on its icon, a link) is left with Home.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from agent.geometry import Geometry
from environments.base import Command, Environment, Observation, StepResult
from environments.safety.rules import RuleSet
from environments.wrappers import Wrapper

Verdict = Literal["approve", "reject", "stop"]
FRAMEWORK_ACTIONS = ("terminate", "answer")  # end or report; nothing on the screen to guard


class Confirm(Protocol):
    def ask(self, command: Command, observation: Observation | None, why: str) -> tuple[Verdict, str]: ...


class SafetyGate(Wrapper):
    """Allow, deny or ask about each action by ``rules``; ``allow_apps`` limits Android ``open``."""

    def __init__(self, env: Environment, rules: RuleSet | None = None, *, allow_apps: tuple[str, ...] = (),
                 confirm: Confirm | None = None) -> None:
        super().__init__(env)
        self.rules = rules or RuleSet()
        self.allow_apps = {a.lower() for a in (*allow_apps, *self.rules.allow_apps)}
        self.confirm = confirm
        self._seen: Observation | None = None  # the screen the next action is chosen on (for the person)
        self._apps: set[str] | None = None  # Android: packages allowed in front

    def reset(self) -> Observation:
        observation = self._keep(self.env.reset())
        device = self.unwrapped
        self._apps = None
        if self.allow_apps and hasattr(device, "foreground_package"):  # Android: watch the app in front
            start = device.foreground_package()  # where the episode starts (the launcher) stays allowed
            self._apps = {start} if start else set()
            for name in self.allow_apps:
                with contextlib.suppress(Exception):  # a name the device does not know allows nothing more
                    self._apps.add(device.resolve_app(name).package)
        return observation

    def observe(self) -> Observation:
        return self._keep(self.env.observe())

    def _keep(self, observation: Observation) -> Observation:
        if self.confirm is not None:  # held only when a person may need to see it
            self._seen = observation
        return observation

    def decide(self, command: Command) -> dict[str, Any]:
        """The rules' decision on ``command``: ``{"decision", "rule", "reason"}``."""
        action = command.action.to_json_dict()
        if action["action"] == "open" and self.allow_apps and not self._app_allowed(str(action.get("text", ""))):
            return {"decision": "deny", "rule": "allow-app", "reason":
                    f"the app {action.get('text')!r} is not in the allowed apps ({', '.join(sorted(self.allow_apps))})"}
        rule = self.rules.first_match(action)
        if rule is None:
            return {"decision": "ask" if self.confirm else "allow", "rule": None, "reason": ""}
        return {"decision": rule.decision, "rule": rule.label(), "reason": rule.reason or f"rule {rule.label()}"}

    def execute(self, command: Command) -> StepResult:
        if command.name in FRAMEWORK_ACTIONS:
            return self.env.execute(command)
        gate = self.decide(command)
        if gate["decision"] == "ask":
            if self.confirm is None:
                gate |= {"decision": "deny", "reason": f"{gate['reason']}; it needs a person's confirmation "
                                                       "(run with --confirm)"}
            else:
                verdict, why = self.confirm.ask(command, self._seen, gate["reason"])
                gate |= {"asked": True, "verdict": verdict}
                if verdict == "stop":
                    return StepResult(done=True, outcome="stopped", reason="stopped by the person at --confirm",
                                      info={"gate": gate | {"decision": "deny", "by": "person"}})
                if verdict == "reject":
                    gate |= {"decision": "deny", "by": "person",
                             "reason": f"the person rejected it: {why}" if why else "the person rejected it"}
                else:
                    gate["decision"] = "allow"
        if gate["decision"] == "deny":
            return StepResult(info={"gate": gate}, notes=(f"not executed: the safety gate denied it, {gate['reason']}",))
        result = self.env.execute(command)
        notes = list(result.notes)
        blocked = result.info.get("blocked_navigation")
        if blocked:
            gate = {"decision": "deny", "rule": "allow-domain", "reason": f"navigation to {', '.join(blocked)} "
                    "is outside the allowed domains and was blocked"}
            notes.append(f"{gate['reason']}; stay on the allowed site")
        elif (left := self._left_allowed_apps()) is not None:
            gate = {"decision": "deny", "rule": "allow-app", "reason": f"the action opened {left}, which is not "
                    "in the allowed apps; the device was sent back to the home screen"}
            notes.append(gate["reason"])
        return replace(result, info={**result.info, "gate": gate}, notes=tuple(notes))

    def _left_allowed_apps(self) -> str | None:
        """Android with --allow-app: the package now in front when it is not allowed (after pressing Home)."""
        if not self._apps:
            return None
        device = self.unwrapped
        package = device.foreground_package()
        if package is None or package in self._apps or package == "com.android.systemui":
            return None
        device.go_home()
        return package

    def _app_allowed(self, name: str) -> bool:
        names = {name.lower()}
        resolve = getattr(self.unwrapped, "resolve_app", None)
        if resolve is not None:
            with contextlib.suppress(Exception):  # an unknown app is the environment's to explain
                app = resolve(name)
                names |= {str(app.package).lower(), str(app.label or "").lower()}
        return bool(names & self.allow_apps)

    def describe(self) -> dict[str, Any]:
        return self.env.describe() | {"safety_gate": {
            "rules": len(self.rules.rule), "defaults": self.rules.defaults, "allow_apps": sorted(self.allow_apps),
            "confirm": self.confirm is not None}}


class TerminalConfirm:
    """Asks the person at the terminal: approve (Enter/a), reject with a reason for the model (r REASON), stop (s).

    Shows the action and writes the screenshot with the action drawn on it to ``directory``.
    """

    def __init__(self, directory: str | Path, *, input: IO[str] | None = None, output: IO[str] | None = None) -> None:
        self.directory = Path(directory)
        self.input, self.output = input or sys.stdin, output or sys.stderr
        self.asked = 0

    def ask(self, command: Command, observation: Observation | None, why: str) -> tuple[Verdict, str]:
        self.asked += 1
        picture = self._picture(command, observation)
        lines = [f"\nThe agent wants to: {json.dumps(command.action.to_json_dict(), ensure_ascii=False)}"]
        if command.point is not None:
            lines.append(f"  at screen point ({command.point.x:.0f}, {command.point.y:.0f})")
        if why:
            lines.append(f"  ({why})")
        if picture:
            lines.append(f"  screenshot with the action marked: {picture}")
        self.output.write("\n".join(lines) + "\n")
        while True:
            self.output.write("approve [a/Enter], reject [r REASON], stop [s]? ")
            self.output.flush()
            line = self.input.readline()
            if not line:  # end of input: nobody can approve
                return "stop", ""
            answer = line.strip()
            word, _, rest = answer.partition(" ")
            if word.lower() in ("", "a", "approve", "y", "yes"):
                return "approve", ""
            if word.lower() in ("r", "reject", "n", "no"):
                return "reject", rest.strip()
            if word.lower() in ("s", "stop", "q", "quit"):
                return "stop", ""
            self.output.write(f"not understood: {answer!r}\n")

    def _picture(self, command: Command, observation: Observation | None) -> Path | None:
        if observation is None:
            return None
        from agent.viewer.marks import render_step, step_marks

        geometry = Geometry.for_screenshot(observation.screenshot_size, observation.input_size, origin=observation.origin)
        points = {k: [p.x, p.y] for k, p in (("coordinate", command.point), ("coordinate2", command.end)) if p}
        step = {"action": command.action.to_json_dict(), "screen_points": points,
                "geometry": {"origin": list(observation.origin)}, "observation": observation.info}
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"confirm-{self.asked:04d}.png"
        render_step(observation.screenshot, geometry, step_marks(step)).save(path)
        return path
