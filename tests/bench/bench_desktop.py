"""Desktop environment: per-step overhead on a 1920x1080 Xvfb against the raw mss grab of the same screen.

A zero-latency model drives the full loop (capture → model-space image → prompt → parse → map →
execute → log) over a real X server with the Tk test app on screen; the stages are also timed alone.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.table import Table

from agent.geometry import Geometry, Size
from agent.imaging import encode, to_model_image
from agent.loop import Agent, AgentConfig
from agent.mapping import to_command
from agent.models import ReplayModel
from agent.parser import parse_tool_calls
from agent.prompt import build_prompt
from agent.trajectory import NullRecorder, TrajectoryWriter
from environments.desktop import DesktopEnvironment
from environments.wrappers import Wrapper
from tools import get_tool

console = Console(width=160)
SIZE = Size(1920, 1080)
RUNS = 40


def median_ms(fn, runs: int = RUNS) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, out


def move(x: float, y: float) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": {"action": "mouse_move",
                                                                              "coordinate": [x, y]}}) + "\n</tool_call>"


class StepClock:
    """A recorder that notes when each step ends and keeps the loop's per-stage timings."""

    def __init__(self, inner) -> None:
        self.inner, self.ends, self.timings = inner, [], []

    def append_step(self, record):
        self.inner.append_step(record)
        self.ends.append(time.perf_counter())
        self.timings.append(record.get("timings", {}))

    def __getattr__(self, name):  # start, save_screenshot, finish: as the wrapped recorder
        return getattr(self.inner, name)


class ObserveClock(Wrapper):
    def __init__(self, env) -> None:
        super().__init__(env)
        self.times: list[float] = []

    def observe(self):
        t = time.perf_counter()
        obs = self.env.observe()
        self.times.append(time.perf_counter() - t)
        return obs


def full_steps(env: DesktopEnvironment, recorder, steps: int = RUNS) -> dict[str, float]:
    """Medians in ms: the whole step, the environment's observe, and each stage the loop times."""
    texts = [move(100 + (i % 2) * 600, 200 + (i % 3) * 100) for i in range(steps)]
    clock, observed = StepClock(recorder), ObserveClock(env)
    result = Agent(ReplayModel(texts), observed, AgentConfig(max_steps=steps), clock).run("bench")
    assert len(clock.ends) > 2, result
    out = {"step": statistics.median(b - a for a, b in zip(clock.ends, clock.ends[1:], strict=False)),
           "observe": statistics.median(observed.times)}
    for stage in ("resize", "prompt", "parse", "execute", "save_screenshot"):
        out[stage] = statistics.median(t.get(stage, 0.0) for t in clock.timings)
    return {k: v * 1000 for k, v in out.items()}


def main() -> None:
    import mss

    from tests.desktop.conftest import TkApp

    env = DesktopEnvironment(virtual=SIZE, settle_quiet=0.0)
    app = TkApp(env.virtual.environ())
    try:
        with mss.MSS(display=env.display_name) as sct:
            raw, _ = median_ms(lambda: sct.grab(sct.monitors[1]))
        capture, shot = median_ms(env._grab)
        convert, image = median_ms(lambda: Image.frombuffer("RGB", shot.size, shot.raw, "raw", "BGRX", 0, 1))
        geometry = Geometry.for_screenshot(SIZE)
        resize, model_image = median_ms(lambda: to_model_image(image, geometry.model))
        jpeg, _ = median_ms(lambda: encode(model_image, "jpeg"))
        tool = get_tool("computer_use")
        prompt, _ = median_ms(lambda: build_prompt(tool, "bench", [], [model_image], geometry.model))
        text = move(400, 300)
        parse, command = median_ms(lambda: to_command(tool.validate(parse_tool_calls(text)[0].arguments), geometry))
        points = [to_command(command.action.model_copy(update={"coordinate": (x, 300)}), geometry)
                  for x in (400, 700)]
        cycle = iter(points * RUNS)
        execute, _ = median_ms(lambda: env.execute(next(cycle)))
        settle_check, _ = median_ms(lambda: env._settled_grab())
        env.settle_quiet = 0.03
        settle_default, _ = median_ms(lambda: env._settled_grab(), runs=10)
        env.settle_quiet = 0.0
        step_null = full_steps(env, NullRecorder())
        with tempfile.TemporaryDirectory() as tmp:
            step_jpeg = full_steps(env, TrajectoryWriter(Path(tmp) / "t", image_format="jpeg"))
    finally:
        app.close()
        env.close()

    table = Table(title=f"Desktop environment, {SIZE} Xvfb, zero-latency model (medians of {RUNS})")
    table.add_column("stage")
    table.add_column("ms", justify="right")
    table.add_column("x raw grab", justify="right")
    rows = [
        ("raw mss grab (reference)", raw),
        ("capture (env grab)", capture),
        ("convert BGRX → RGB", convert),
        (f"resize to model space {geometry.model} (bicubic, agent/imaging)", resize),
        ("encode model image JPEG (server backends only)", jpeg),
        ("build prompt", prompt),
        ("parse + validate + map", parse),
        ("execute (mouse_move via pyautogui/XTest)", execute),
        ("settle check after an action (2nd grab + compare, quiet 0)", settle_check),
        ("settle with the default 30 ms quiet window (a wait, not work)", settle_default),
    ]
    for name, ms in rows:
        table.add_row(name, f"{ms:.2f}", f"{ms / raw:.1f}")
    console.print(table)

    steps = Table(title="Full loop steps (mouse_move, zero-latency model, settle quiet 0), medians")
    for column in ("trajectory", "step", "observe", "resize", "prompt", "parse+map", "execute", "log",
                   "step / raw grab", "step − resize / raw grab"):
        steps.add_column(column, justify="right")
    for label, m in (("none", step_null), ("JPEG", step_jpeg)):
        steps.add_row(label, *[f"{m[k]:.2f}" for k in ("step", "observe", "resize", "prompt", "parse", "execute",
                                                        "save_screenshot")],
                      f"{m['step'] / raw:.1f}x", f"{(m['step'] - m['resize']) / raw:.1f}x")
    console.print(steps)
    env_share = step_null["observe"] + step_null["execute"]
    console.print(f"desktop environment's own share per step (observe + execute): {env_share:.2f} ms = "
                  f"{env_share / raw:.1f}x the raw grab; whole step {step_null['step'] / raw:.1f}x (target ≤ 3x)")


if __name__ == "__main__":
    main()
