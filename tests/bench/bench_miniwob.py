"""MiniWoB++ framework overhead: what each render scale costs and where an episode's time goes.

Runs the DOM policy (no model time) through the real suite, so every number is framework + Chromium:
page load + seed + start, observe (CDP screenshot), resize to model space, execute + settle, reward
read. Run: ``.venv/bin/python -m tests.bench miniwob``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agent.geometry import Geometry, Size
from agent.loop import AgentConfig
from agent.trajectory import Trajectory
from tasks.miniwob.suite import MiniWoBSuite
from tasks.miniwob.task import TASK_AREA, MiniWoBTask
from tasks.runner import Unit
from tests.miniwob.policy import DomPolicy

TASKS = ["click-button", "click-checkboxes", "enter-text", "login-user", "drag-box"]
SCALES = [1.0, 2.0, 3.0, 4.0]
EPISODES = 3


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}" if values else "-"


def bench_scale(scale: float, out: Path) -> tuple[list, dict[str, list[float]]]:
    times: dict[str, list[float]] = {"setup": [], "observe": [], "execute": [], "episode": [], "step": []}
    successes = 0
    with MiniWoBSuite(None, AgentConfig(max_steps=12, max_retries=0), scale=scale) as suite:
        browser = suite.browser()
        suite.model = DomPolicy(browser.page, scale)
        task = MiniWoBTask("click-button")
        for seed in range(EPISODES):
            t = time.perf_counter()
            task.setup(browser, seed)
            times["setup"].append(time.perf_counter() - t)
            for _ in range(5):
                t = time.perf_counter()
                browser.observe()
                times["observe"].append(time.perf_counter() - t)
        for name in TASKS:
            for seed in range(EPISODES):
                t = time.perf_counter()
                result = suite.run(Unit(name, seed, seed), out / f"{scale}-{name}-{seed}")
                elapsed = time.perf_counter() - t
                times["episode"].append(elapsed)
                successes += result["outcome"] == "success"
                trajectory = Trajectory.load(out / f"{scale}-{name}-{seed}")
                times["step"] += [elapsed / max(1, len(trajectory.steps))]
                times["execute"] += [s["timings"].get("execute", 0.0) for s in trajectory.steps]
    shot = Size(round(TASK_AREA.width * scale), round(TASK_AREA.height * scale))
    geometry = Geometry.for_screenshot(shot, TASK_AREA)
    row = [f"{scale:g}", str(shot), str(geometry.model), str(geometry.image_tokens),
           f"{successes}/{len(TASKS) * EPISODES}"]
    return row, times


def main() -> None:
    console = Console()
    table = Table(title=f"MiniWoB++ with the DOM policy ({len(TASKS)} tasks x {EPISODES} episodes per scale; medians)")
    for column in ("scale", "screenshot", "model", "image tokens", "solved", "setup ms", "observe ms",
                   "execute+settle ms", "per step ms", "episode ms"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for scale in SCALES:
            row, t = bench_scale(scale, Path(tmp))
            table.add_row(*row, _ms(t["setup"]), _ms(t["observe"]), _ms(t["execute"]), _ms(t["step"]),
                          _ms(t["episode"]))
    console.print(table)
    console.print("setup = page load + seed + start; per step = episode wall time / steps (includes trajectory "
                  "writing, PNG screenshots); no model time anywhere.")


if __name__ == "__main__":
    main()
