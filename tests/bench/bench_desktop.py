"""Desktop environment: per-step overhead on a 1920x1080 Xvfb against the raw mss grab of the same screen.

A zero-latency model drives the full loop (capture → model-space image → prompt → parse → map →
execute → log) over a real X server with the Tk test app on screen, on a mix of steps like an agent's
(clicks that recolour a button, typing, keys, scrolling a list, moves that draw nothing). It runs with
damage tracking (incremental capture, resize and JPEG) and without (full grab, full resize, full JPEG),
and the stages are also timed alone.
"""

from __future__ import annotations

import functools
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agent.geometry import Geometry, ScreenPoint, Size
from agent.imaging import ModelImageCache, encode, to_model_image
from agent.jpeg import RowJpegEncoder
from agent.loop import Agent, AgentConfig
from agent.mapping import to_command
from agent.models import ReplayModel
from agent.parser import parse_tool_calls
from agent.prompt import build_prompt
from agent.trajectory import NullRecorder, TrajectoryWriter
from environments.base import Damage
from environments.desktop import DesktopEnvironment
from environments.wrappers import Wrapper
from environments.x11.capture import VERIFY_EVERY, rgb
from tools import get_tool

console = Console(width=160)
SIZE = Size(1920, 1080)
RUNS = 40
GEOMETRY = Geometry.for_screenshot(SIZE)


def median_ms(fn, runs: int = RUNS) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, out


def tool_call(action: str, at: tuple[int, int] | None = None, **args) -> str:
    if at is not None:
        point = GEOMETRY.to_model(ScreenPoint(*at))
        args["coordinate"] = [round(point.x), round(point.y)]
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": {"action": action, **args}}) \
        + "\n</tool_call>"


def workload(steps: int) -> list[str]:
    """An agent-like mix over the Tk app (tests/desktop/tk_app.py)."""
    from tests.desktop.tk_app import LIST_BOX, TARGETS, TEXT_BOX

    def centre(box):
        return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2

    cycle = [  # most steps change the screen, as an agent's do; the text box keeps the focus
        tool_call("left_click", centre(TEXT_BOX)),
        tool_call("type", text="hello "),
        tool_call("key", keys=["backspace"]),
        tool_call("scroll", centre(LIST_BOX), pixels=-200),
        tool_call("type", text="x"),
        tool_call("scroll", centre(LIST_BOX), pixels=200),
        tool_call("key", keys=["ctrl", "a"]),
        tool_call("type", text="y"),
        tool_call("mouse_move", (900, 700)),
        tool_call("left_click", centre(TARGETS["left"])),
    ]
    return [cycle[i % len(cycle)] for i in range(steps)]


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
        self.damaged: list[float] = []

    def observe(self):
        t = time.perf_counter()
        obs = self.env.observe()
        self.times.append(time.perf_counter() - t)
        damage = obs.damage or Damage(0, ((0, 0, *obs.screenshot.size),))
        self.damaged.append(damage.area() / (SIZE.width * SIZE.height))
        return obs


def full_steps(env: DesktopEnvironment, recorder, steps: int = RUNS) -> dict[str, float]:
    """Medians in ms: the whole step, the environment's observe, and each stage the loop times."""
    clock, observed = StepClock(recorder), ObserveClock(env)
    model = ReplayModel(workload(steps), keep_prompts=0)  # keeps no prompt, like the real backends
    result = Agent(model, observed, AgentConfig(max_steps=steps), clock).run("bench")
    assert len(clock.ends) > 2, result
    gaps = [b - a for a, b in zip(clock.ends, clock.ends[1:], strict=False)]
    out = {"step": statistics.median(gaps), "mean": statistics.fmean(gaps), "observe": statistics.median(observed.times)}
    for stage in ("resize", "prompt", "parse", "execute", "save_screenshot"):
        out[stage] = statistics.median(t.get(stage, 0.0) for t in clock.timings)
    out = {k: v * 1000 for k, v in out.items()}
    changed = [d for d in observed.damaged if d > 0]
    out["changed"] = 100 * len(changed) / len(observed.damaged)
    out["damaged"] = statistics.median(changed) * 100 if changed else 0.0
    return out


def without_tracking(env: DesktopEnvironment, fn):
    capture, env.capture = env.capture, None
    try:
        return fn()
    finally:
        env.capture = capture


class RawGrab:
    """The reference: raw mss grabs of the whole screen, sampled between the other measurements so that
    machine noise hits both sides of the ratio alike; the median of every sample is the reference."""

    def __init__(self, display: str) -> None:
        import mss

        self.sct = mss.MSS(display=display)
        self.samples: list[float] = []
        self.batches: list[float] = []

    def sample(self, runs: int = RUNS) -> None:
        monitor, batch = self.sct.monitors[1], []
        for _ in range(runs):
            t = time.perf_counter()
            self.sct.grab(monitor)
            batch.append(time.perf_counter() - t)
        self.samples += batch
        self.batches.append(statistics.median(batch) * 1000)

    @property
    def ms(self) -> float:
        return statistics.median(self.samples) * 1000


def incremental_capture(env: DesktopEnvironment, app) -> float:
    """Median ms of `observe` after the app drew a 40x40 square (drawn outside the timing); nothing else
    holds the observations; each is a new image (the last one copied and patched), as in the loop."""
    times = []
    env.observe()
    for i in range(RUNS):
        app.command("target", box=[300 + 60 * (i % 2), 400, 340 + 60 * (i % 2), 440])
        t = time.perf_counter()
        damage = env.observe().damage
        times.append(time.perf_counter() - t)
        assert damage.boxes, "the square was not seen"
    app.command("clear_target")
    env.observe()
    return statistics.median(times) * 1000


def stage_rows(env: DesktopEnvironment, app) -> list[tuple[str, float]]:
    incremental = incremental_capture(env, app)
    capture, shot = median_ms(env._grab)
    convert, image = median_ms(lambda: rgb(shot))
    resize, model_image = median_ms(lambda: to_model_image(image, GEOMETRY.model))
    button = (100, 100, 300, 140)  # a 200x40 button repainted
    cache = ModelImageCache()
    cache.model_image(image, GEOMETRY.model, frame=1)
    frames = iter(range(2, 10_000))

    def patch_resize():
        frame = next(frames)
        return cache.model_image(image, GEOMETRY.model, frame=frame, damage=Damage(frame - 1, (button,)))

    resize_small, _ = median_ms(patch_resize)
    jpeg_model, _ = median_ms(lambda: encode(model_image, "jpeg"))
    jpeg_full, _ = median_ms(lambda: encode(image, "jpeg"), runs=10)
    rows_jpeg = RowJpegEncoder()
    rows_jpeg.encode(image, frame=1)
    frames = iter(range(2, 10_000))

    def patch_jpeg():
        frame = next(frames)
        return rows_jpeg.encode(image, frame=frame, damage=Damage(frame - 1, (button,)))

    jpeg_small, _ = median_ms(patch_jpeg)
    tool = get_tool("computer_use")
    prompt, _ = median_ms(lambda: build_prompt(tool, "bench", [], [model_image], GEOMETRY.model))
    text = tool_call("mouse_move", (400, 300))
    parse, command = median_ms(lambda: to_command(tool.validate(parse_tool_calls(text)[0].arguments), GEOMETRY))
    points = [to_command(command.action.model_copy(update={"coordinate": (x, 300)}), GEOMETRY) for x in (400, 700)]
    cycle = iter(points * RUNS)
    execute, _ = median_ms(lambda: env.execute(next(cycle)))
    env.observe()
    settle_check, _ = median_ms(lambda: env.capture.settled(env.settle_quiet, env.settle_timeout))
    settle_grabs, _ = median_ms(lambda: env._settled_grab())
    env.settle_quiet = 0.03
    settle_default, _ = median_ms(lambda: env.capture.settled(env.settle_quiet, env.settle_timeout), runs=10)
    env.settle_quiet = 0.0
    return [
        ("capture: full grab (env)", capture),
        ("capture, incremental: a 40x40 square drawn (DAMAGE, grab it, narrow, paste onto a copy)", incremental),
        ("convert BGRX → RGB (full frame)", convert),
        (f"resize to model space {GEOMETRY.model}: full frame (torch antialiased bicubic)", resize),
        ("resize: one repainted 200x40 button (incremental)", resize_small),
        ("encode model image JPEG (server backends only)", jpeg_model),
        ("encode screenshot JPEG for the trajectory: full frame", jpeg_full),
        ("encode screenshot JPEG: one repainted 200x40 button (incremental rows)", jpeg_small),
        ("build prompt", prompt),
        ("parse + validate + map", parse),
        ("execute (mouse_move via pyautogui/XTest)", execute),
        ("settle check: nothing drawn (1 DAMAGE round trip, quiet 0)", settle_check),
        ("settle check without DAMAGE (2nd full grab + compare, quiet 0)", settle_grabs),
        ("settle with the default 30 ms quiet window (a wait, not work)", settle_default),
    ]


def main() -> None:
    from tests.desktop.conftest import TkApp

    env = DesktopEnvironment(virtual=SIZE, settle_quiet=0.0)
    app = TkApp(env.virtual.environ())
    try:
        assert env.capture is not None, "Xvfb has no DAMAGE extension"
        reference = RawGrab(env.display_name)
        reference.sample()
        rows = stage_rows(env, app)
        runs = {}
        for label, tracked in (("DAMAGE", True), ("full frames", False)):
            for trajectory in ("none", "JPEG"):
                reference.sample()
                with tempfile.TemporaryDirectory() as tmp:
                    recorder = NullRecorder() if trajectory == "none" else TrajectoryWriter(Path(tmp) / "t")
                    run = functools.partial(full_steps, env, recorder)
                    runs[label, trajectory] = run() if tracked else without_tracking(env, run)
        reference.sample()
        reference.sct.close()
        missed = env.damage_missed
    finally:
        app.close()
        env.close()

    raw = reference.ms
    rows.insert(0, (f"raw mss grab (reference; median of {len(reference.samples)} grabs in {len(reference.batches)} "
                    f"batches, batch medians {min(reference.batches):.2f}–{max(reference.batches):.2f})", raw))
    table = Table(title=f"Desktop environment, {SIZE} Xvfb, zero-latency model (medians of {RUNS})")
    table.add_column("stage")
    table.add_column("ms", justify="right")
    table.add_column("x raw grab", justify="right")
    for name, ms in rows:
        table.add_row(name, f"{ms:.2f}", f"{ms / raw:.1f}")
    console.print(table)

    steps = Table(title="Full loop, agent-like step mix (settle quiet 0), medians in ms")
    columns = ("step", "mean", "observe", "resize", "prompt", "parse", "execute", "save_screenshot")
    for column in ("capture", "trajectory", "step", "step mean", "observe", "resize", "prompt", "parse+map",
                   "execute", "log", "steps changing %", "changed area %", "step / raw grab"):
        steps.add_column(column, justify="right")
    for (label, trajectory), m in runs.items():
        steps.add_row(label, trajectory, *[f"{m[k]:.2f}" for k in columns], f"{m['changed']:.0f}", f"{m['damaged']:.2f}",
                      f"{m['step'] / raw:.1f}x")
    console.print(steps)
    console.print(f"DAMAGE checked against a full grab every {VERIFY_EVERY} steps: "
                  + ("no drawing missed" if missed is None else f"[red]MISSED drawing in {missed}: the DAMAGE rows "
                     "ran on full grabs after that[/red]"))
    best = runs["DAMAGE", "JPEG"]
    console.print(f"whole step with DAMAGE and a JPEG trajectory: {best['step']:.2f} ms = {best['step'] / raw:.1f}x "
                  f"the raw grab (target ≤ 3x); without a trajectory {runs['DAMAGE', 'none']['step'] / raw:.1f}x; "
                  f"full frames {runs['full frames', 'JPEG']['step'] / raw:.1f}x")


if __name__ == "__main__":
    main()
