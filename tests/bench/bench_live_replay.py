"""Live replay of an unchanged 20-step demonstration on the demo app against the browser's raw action cost.

A 20-action session (sign in, search, toggles, tabs; then the final terminate) is recorded once by
driving `BrowserRecorder` like a person. Then, in alternating rounds on fresh pages:
  raw          the same 20 recorded commands through `BrowserEnvironment` alone: observe + execute (with
               its settle) per step, nothing else — what any agent pays the browser per step
  live replay  `LiveReplay` of the session: per step the screenshot written to the replay's trajectory,
               the SSIM comparison with the recorded screen (masked toast), the recorded action executed,
               the next observation, the step record
Target: live replay step <= 1.5x raw; model calls 0.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agent.geometry import Geometry
from agent.mapping import to_command
from agent.regression.live import LiveOptions, LiveReplay
from agent.trajectory import Trajectory
from environments.browser import BrowserEnvironment, launch_browser
from environments.webapps import WebAppServer
from tests.regression.demonstration import MASKS, VIEWPORT, Person, record_demo
from tools import get_tool

ROUNDS = 3


class _NoModel:
    """Counts calls; an unchanged app must not need any."""

    name = "none"
    calls = 0

    def generate(self, prompt):  # pragma: no cover - reaching it is the failure the bench reports
        self.calls += 1
        raise RuntimeError("the unchanged app needed a model call")

    def describe(self):
        return {"backend": "none"}


def twenty_actions(person: Person) -> None:
    person.click("#username"); person.type("alice"); person.click("#password"); person.type("wonderland")  # noqa: E702
    person.click("#signin-button"); person.click("#search"); person.type("gr"); person.press("Backspace", "Backspace")  # noqa: E702
    person.type("ada"); person.click("#tab-settings")  # noqa: E702
    for toggle in ("toggle-email", "toggle-dark", "toggle-dark"):
        person.click(f"label.switch:has(#{toggle}) span")
    person.click("#tab-contacts"); person.click("#search"); person.press("Control+a"); person.type("turing")  # noqa: E702
    person.click("#tab-settings"); person.click("label.switch:has(#toggle-autosave) span")  # noqa: E702


def raw_steps(browser, server, recorded: Trajectory) -> list[float]:
    """observe + execute for each recorded action, on a fresh page, in ms."""
    tool = get_tool("computer_use")
    out = []
    with BrowserEnvironment(server.url("demo/"), VIEWPORT, browser=browser) as env:
        env.reset()
        for step in recorded.steps:
            if step["action"]["action"] == "terminate":
                break
            command = to_command(tool.validate(step["action"]), Geometry.from_dict(step["geometry"]))
            t = time.perf_counter()
            env.observe()
            env.execute(command)
            out.append((time.perf_counter() - t) * 1000)
    return out


def live_steps(browser, server, recorded: Trajectory, out: Path) -> tuple[list[float], int, bool]:
    model = _NoModel()
    with BrowserEnvironment(server.url("demo/"), VIEWPORT, browser=browser) as env:
        report = LiveReplay(recorded, env, out, LiveOptions(mask_selectors=MASKS), model=model).run()
    steps = [s.seconds * 1000 for s in report.steps if s.action != "terminate"]
    return steps, report.model_calls + model.calls, report.passed


def main() -> None:
    console = Console(width=140)
    playwright, browser = launch_browser()
    work = Path(tempfile.mkdtemp(prefix="bench-live-replay-"))
    raw, live, calls, passed = [], [], 0, True
    try:
        with WebAppServer() as server:
            recorded = Trajectory.load(record_demo(browser, server, work / "session",
                                                   "Sign in, search contacts, change settings", twenty_actions))
            actions = sum(s["action"]["action"] != "terminate" for s in recorded.steps)
            for r in range(ROUNDS + 1):
                raw_ms = raw_steps(browser, server, recorded)
                live_ms, round_calls, ok = live_steps(browser, server, recorded, work / f"replay-{r}")
                if r == 0:
                    continue  # warm-up
                raw += raw_ms
                live += live_ms
                calls += round_calls
                passed = passed and ok
    finally:
        browser.close()
        playwright.stop()
    table = Table(title=f"live replay of an unchanged {actions}-action session, {ROUNDS} rounds (ms per step)")
    for column in ("", "median", "mean", "total per session"):
        table.add_column(column, justify="right")
    for name, values in (("raw: observe + execute", raw), ("live replay step", live)):
        table.add_row(name, f"{statistics.median(values):.1f}", f"{statistics.mean(values):.1f}",
                      f"{sum(values) / ROUNDS:.0f}")
    console.print(table)
    ratio = statistics.median(live) / statistics.median(raw)
    mean_ratio = statistics.mean(live) / statistics.mean(raw)
    colour = "green" if ratio <= 1.5 and calls == 0 and passed else "red"
    console.print(f"[{colour}]live replay / raw: median {ratio:.2f}x, mean {mean_ratio:.2f}x (target <= 1.5x); "
                  f"model calls {calls} (target 0); every replay passed: {passed}[/]")


if __name__ == "__main__":
    main()
