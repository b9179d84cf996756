"""Framework overhead per step with a zero-latency model, replay speed, and memory over long replays."""

from __future__ import annotations

import json
import resource
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
from agent.models import ReplayModel
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.canvas import CanvasEnvironment
from environments.replay import ReplayEnvironment
from environments.wrappers import Wrapper

console = Console()
SIZE = Size(1920, 1080)


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


def texts(n: int) -> list[str]:
    steps = [call(action="left_click", coordinate=[100 + i % 1000, 200 + i % 500]) if i % 2 else call(action="type", text=f"step {i}")
             for i in range(n - 1)]
    return steps + [call(action="terminate", status="success")]


def screenshot() -> Image.Image:
    """A busy synthetic 1080p screen: text-like noise compresses like a real desktop, not like a flat fill."""
    env = CanvasEnvironment(SIZE)
    env.show_target((800, 400, 900, 460))
    return env.observe().screenshot


def bench_encode() -> tuple[str, dict[str, float]]:
    image = screenshot()
    model_image = to_model_image(image, Geometry.for_screenshot(SIZE).model)
    rows = {}
    for label, img in (("1920x1080 screenshot", image), ("1316x728 model image", model_image)):
        for fmt in ("jpeg", "png"):
            runs = []
            for _ in range(15):
                t = time.perf_counter()
                data = encode(img, fmt)
                runs.append(time.perf_counter() - t)
            rows[f"{label} {fmt}"] = (statistics.median(runs) * 1000, len(data) / 1024)
    table = Table(title="Screenshot encoding (median of 15)")
    table.add_column("image / format")
    table.add_column("ms", justify="right")
    table.add_column("KiB", justify="right")
    for k, (ms, kib) in rows.items():
        table.add_row(k, f"{ms:.1f}", f"{kib:.0f}")
    console.print(table)
    return "encode", {k: v[0] for k, v in rows.items()}


def bench_step_overhead(steps: int = 60) -> None:
    for fmt in ("jpeg", "png"):
        with tempfile.TemporaryDirectory() as tmp:
            env = CanvasEnvironment(SIZE)
            Agent(ReplayModel(texts(steps), keep_prompts=1), env, AgentConfig(max_steps=steps),
                  TrajectoryWriter(Path(tmp) / "t", image_format=fmt)).run("bench")
            t = Trajectory.load(Path(tmp) / "t")
        stages = ["resize", "prompt", "model", "parse", "execute", "save_screenshot"]
        medians = {s: statistics.median(step["timings"].get(s, 0) for step in t.steps) * 1000 for s in stages}
        table = Table(title=f"Per-step framework overhead, 1920x1080, zero-latency model, trajectory screenshots as {fmt} "
                            f"(median of {steps} steps)")
        for column in [*stages, "total excl. screenshot encode"]:
            table.add_column(column, justify="right")
        total = sum(v for k, v in medians.items() if k != "save_screenshot")
        table.add_row(*[f"{medians[s]:.2f}" for s in stages], f"{total:.2f}")
        console.print(table)


class RSSProbe(Wrapper):
    """Samples peak RSS after chosen numbers of executed steps."""

    def __init__(self, env, at: set[int]) -> None:
        super().__init__(env)
        self.at, self.count, self.peaks = at, 0, {}

    def execute(self, command):
        result = self.env.execute(command)
        self.count += 1
        if self.count in self.at:
            self.peaks[self.count] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return result


def bench_replay() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in (100, 1000):
            Agent(ReplayModel(texts(n), keep_prompts=1), CanvasEnvironment(SIZE), AgentConfig(max_steps=n),
                  TrajectoryWriter(root / f"rec{n}", image_format="jpeg")).run("record")
        rows = []
        for n in (100, 1000):
            recorded = Trajectory.load(root / f"rec{n}")
            env = RSSProbe(ReplayEnvironment(recorded), {10, 100, 1000})
            t = time.perf_counter()
            result = Agent(ReplayModel.from_trajectory(recorded.path), env, AgentConfig(max_steps=n),
                           TrajectoryWriter(root / f"replay{n}", image_format="jpeg")).run("record")
            seconds = time.perf_counter() - t
            assert result.outcome == "success" and result.steps == n, result
            rows.append((n, seconds, env.peaks))
    table = Table(title="Replay of a recorded 1920x1080 session (full pipeline, writing its own trajectory)")
    for column in ("steps", "seconds", "ms/step", "peak RSS MiB @10", "@100", "@1000"):
        table.add_column(column, justify="right")
    for n, seconds, peaks in rows:
        table.add_row(str(n), f"{seconds:.2f}", f"{seconds / n * 1000:.1f}",
                      *[f"{peaks[k]:.0f}" if k in peaks else "—" for k in (10, 100, 1000)])
    console.print(table)


def bench_incremental_jpeg(runs: int = 30) -> None:
    """Trajectory JPEG when the environment reports damage: only the touched 16x128-px tiles are re-encoded."""
    import io

    from agent.jpeg import RowJpegEncoder
    from environments.base import Damage
    from tests.core.test_imaging import ui_like

    image = screenshot()
    encoder = RowJpegEncoder()
    cases = {"full encode": None, "incremental, 200x40 box": (860, 500, 1060, 540),
             "incremental, 400x300 box": (760, 390, 1160, 690), "incremental, 1920x200 band": (0, 440, 1920, 640)}
    rows = {}
    for label, box in cases.items():
        samples = []
        encoder.encode(image, frame=0)
        for frame in range(runs):  # a chain of damaged frames, each against the one before (the steady state)
            damage = Damage(frame, (box,)) if box else None
            t = time.perf_counter()
            data = encoder.encode(image, frame=frame + 1, damage=damage)
            samples.append(time.perf_counter() - t)
            assert (encoder.last != "full") == bool(box), encoder.last
        assert data == encoder.save(image)
        rows[label] = statistics.median(samples) * 1000
    full = rows["full encode"]
    sizes = []  # what the restart markers cost: this sparse screen, and one with text everywhere
    for name, shot in (("this screen", image), ("text-dense ui_like", ui_like(SIZE).convert("RGB"))):
        per_row = io.BytesIO()
        shot.save(per_row, "JPEG", quality=encoder.quality, subsampling=2, restart_marker_rows=1)
        size = len(encoder.save(shot))
        sizes.append(f"{name} {size / 1024:.0f} KiB ({size / len(per_row.getvalue()) - 1:+.1%})")
    table = Table(title=f"Trajectory JPEG of a 1920x1080 UI-like screen with damage (median of {runs})",
                  caption=f"full frame: {', '.join(sizes)} vs one restart marker per MCU row")
    for column in ("case", "ms", "x faster than full"):
        table.add_column(column, justify="right")
    for label, ms in rows.items():
        table.add_row(label, f"{ms:.2f}", f"{full / ms:.1f}")
    console.print(table)


def bench_incremental_resize(runs: int = 30) -> None:
    """Model-space image when the environment reports damage: only output pixels whose support it touches."""
    import numpy as np

    from agent.imaging import ModelImageCache, damaged_rects
    from environments.base import Damage, next_frame
    from tests.core.test_imaging import ui_like

    image, model = ui_like(SIZE), Geometry.for_screenshot(SIZE).model  # text and outlines everywhere
    reference = np.asarray(to_model_image(image, model), np.int16)
    cases = {"full resize (torch)": None, "incremental, 200x40 box": (860, 500, 1060, 540),
             "incremental, 600x400 window": (660, 340, 1260, 740), "incremental, 1920x200 band": (0, 440, 1920, 640)}
    rows = {}
    for label, box in cases.items():
        cache, samples = ModelImageCache(), []
        for _ in range(runs):
            cache.model_image(image, model, frame := next_frame())  # the cached frame
            damage = Damage(frame, (box,)) if box else None
            t = time.perf_counter()
            out = cache.model_image(image, model, next_frame(), damage)
            samples.append(time.perf_counter() - t)
        assert cache.last == ("patch" if box else "full"), cache.last
        rects = damaged_rects([box], SIZE, model) if box else [(0, 0, model.width, model.height)]
        area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects)
        diff = int(np.abs(np.asarray(out, np.int16) - reference).max())
        rows[label] = (statistics.median(samples) * 1000, area / (model.width * model.height), diff)
    full = rows["full resize (torch)"][0]
    table = Table(title=f"Model image ({model.width}x{model.height}) of a 1920x1080 screen with damage (median of {runs})")
    for column in ("case", "ms", "x faster than full", "output recomputed", "max |diff| vs torch full"):
        table.add_column(column, justify="right")
    for label, (ms, share, diff) in rows.items():
        table.add_row(label, f"{ms:.2f}", f"{full / ms:.1f}", f"{share:.1%}", str(diff))
    console.print(table)


def main() -> None:
    bench_encode()
    bench_step_overhead()
    bench_replay()
    bench_incremental_jpeg()
    bench_incremental_resize()


if __name__ == "__main__":
    main()
