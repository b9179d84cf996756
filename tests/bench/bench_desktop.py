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
from tools import get_tool

console = Console()
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
    """A recorder that notes when each step ends (optionally writing the trajectory too)."""

    def __init__(self, inner) -> None:
        self.inner, self.ends = inner, []

    def append_step(self, record):
        self.inner.append_step(record)
        self.ends.append(time.perf_counter())

    def __getattr__(self, name):  # start, save_screenshot, finish: as the wrapped recorder
        return getattr(self.inner, name)


def full_steps(env: DesktopEnvironment, geometry: Geometry, recorder, steps: int = RUNS) -> float:
    texts = [move(100 + (i % 2) * 600, 200 + (i % 3) * 100) for i in range(steps)]
    clock = StepClock(recorder)
    result = Agent(ReplayModel(texts), env, AgentConfig(max_steps=steps), clock).run("bench")
    assert len(clock.ends) > 2, result
    return statistics.median(b - a for a, b in zip(clock.ends, clock.ends[1:], strict=False)) * 1000


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
        execute, _ = median_ms(lambda: env.execute(points[int(time.perf_counter() * 1e3) % 2]))
        settle_check, _ = median_ms(lambda: env._settled_grab())
        env.settle_quiet = 0.03
        settle_default, _ = median_ms(lambda: env._settled_grab(), runs=10)
        env.settle_quiet = 0.0
        step_null = full_steps(env, geometry, NullRecorder())
        with tempfile.TemporaryDirectory() as tmp:
            step_jpeg = full_steps(env, geometry, TrajectoryWriter(Path(tmp) / "t", image_format="jpeg"))
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
        (f"resize to model space {geometry.model} (bicubic, in the loop)", resize),
        ("encode model image JPEG (server backends)", jpeg),
        ("build prompt", prompt),
        ("parse + validate + map", parse),
        ("execute (mouse_move via pyautogui/XTest)", execute),
        ("settle check after an action (2 grabs, quiet 0)", settle_check),
        ("settle with the default 30 ms quiet window", settle_default),
        ("full step, no trajectory (observe … execute)", step_null),
        ("full step, JPEG trajectory (… log)", step_jpeg),
        ("full step minus the loop's resize", step_null - resize),
    ]
    for name, ms in rows:
        table.add_row(name, f"{ms:.2f}", f"{ms / raw:.1f}")
    console.print(table)
    console.print(f"per-step overhead / raw grab: {step_null / raw:.1f}x (target ≤ 3x); "
                  f"without the bicubic resize: {(step_null - resize) / raw:.1f}x")


if __name__ == "__main__":
    main()
