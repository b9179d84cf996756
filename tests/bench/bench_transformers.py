"""Tiny random Qwen2.5-VL through TransformersModel: build, load, preprocessing and generate times.

What it measures is the framework's own overhead around a model (processor, M-RoPE, generate loop,
agent step), not a real model's speed: the weights are a megabyte of noise.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.table import Table

from agent.geometry import MAX_PIXELS, Geometry, Size
from agent.imaging import to_model_image
from agent.loop import Agent, AgentConfig
from agent.models.tiny import build_tiny_qwen25vl
from agent.models.transformers import TransformersModel
from agent.prompt import Prompt
from agent.trajectory import NullRecorder
from environments.canvas import CanvasEnvironment

REPEATS = 5  # best of: the machine is shared, the minimum is the least disturbed run
CASES = [(Size(1280, 720), MAX_PIXELS), (Size(1920, 1080), MAX_PIXELS), (Size(1920, 1080), 16384 * 784),
         (Size(1080, 2400), MAX_PIXELS)]


def timed(fn, repeats: int = REPEATS) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def screen(size: Size) -> Image.Image:
    image = Image.new("RGB", (size.width, size.height), (236, 239, 244))
    image.paste((255, 0, 255), (size.width // 3, size.height // 3, size.width // 3 + 60, size.height // 3 + 40))
    return image


def main() -> None:
    console = Console(width=150)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        path = build_tiny_qwen25vl(Path(tmp) / "tiny")
        build = time.perf_counter() - t
        size_mb = sum(f.stat().st_size for f in path.iterdir()) / 1e6
        load, model = timed(lambda: TransformersModel(path, max_new_tokens=32), repeats=1)
        model.generate(Prompt("", "warm up", (screen(Size(280, 196)),)))

        table = Table(title=f"tiny Qwen2.5-VL ({size_mb:.2f} MB; build {build:.2f} s, load {load:.2f} s), best of {REPEATS}")
        for column in ("screenshot", "max_pixels", "model size", "image tokens", "resize once + identity processor",
                       "processor resizes raw", "ratio", "generate 32 tokens"):
            table.add_column(column, justify="right")
        processor = model.processor.image_processor
        for size, max_pixels in CASES:
            raw = screen(size)
            geometry = Geometry.for_screenshot(size, max_pixels=max_pixels)
            area = geometry.model.width * geometry.model.height
            ours, _ = timed(lambda raw=raw, g=geometry, a=area: processor(
                [to_model_image(raw, g.model)], size={"shortest_edge": a, "longest_edge": a}, return_tensors="pt"))
            theirs, _ = timed(lambda raw=raw, m=max_pixels: processor(
                [raw], size={"shortest_edge": 3136, "longest_edge": m}, return_tensors="pt"))
            image = to_model_image(raw, geometry.model)
            model.max_new_tokens = 32
            gen_time, generation = timed(lambda image=image: model.generate(Prompt("", "Click the square.", (image,))))
            table.add_row(str(size), f"{max_pixels:,}", str(geometry.model), f"{generation.image_tokens:,}",
                          f"{ours * 1000:.0f} ms", f"{theirs * 1000:.0f} ms", f"{theirs / ours:.2f}x",
                          f"{gen_time:.2f} s ({generation.completion_tokens} tok)")
        console.print(table)

        model.max_new_tokens = 16
        steps = Table(title="agent step on a 1280x720 canvas (tiny model, 1 try per step, best of 5)")
        for column in ("stage", "seconds"):
            steps.add_column(column, justify="right")
        timings: list[dict] = []
        for _ in range(REPEATS):
            recorder = _TimingRecorder()
            Agent(model, CanvasEnvironment(Size(1280, 720)), AgentConfig(max_steps=1, max_retries=0), recorder).run("x")
            timings.append(recorder.timings)
        for stage in sorted({k for t in timings for k in t}):
            steps.add_row(stage, f"{min(t.get(stage, 0.0) for t in timings):.4f}")
        console.print(steps)
        console.print(_batching(model))


BATCHES = (1, 4, 8)
BATCH_SAMPLES = 16


def _batching(model: TransformersModel) -> Table:
    """Grounding prompts (1288x728 screenshot, prefill, 8 new tokens) through `generate_batch`: samples/s."""
    from tasks.screenspot.grounding import PREFILL

    model.max_new_tokens = 8
    geometry = Geometry.for_screenshot(Size(1280, 720), max_pixels=MAX_PIXELS)
    image = to_model_image(screen(Size(1280, 720)), geometry.model)
    prompts = [Prompt("", f"Click the square number {i}.", (image,), PREFILL) for i in range(BATCH_SAMPLES)]
    table = Table(title=f"transformers batching: {BATCH_SAMPLES} grounding prompts, {geometry.model}, 8 new tokens")
    for column in ("batch", "samples/s", "speed-up"):
        table.add_column(column, justify="right")
    base = None
    for batch in BATCHES:
        seconds, _ = timed(lambda b=batch: [model.generate_batch(prompts[i:i + b])
                                           for i in range(0, BATCH_SAMPLES, b)], repeats=2)
        rate = BATCH_SAMPLES / seconds
        base = base or rate
        table.add_row(str(batch), f"{rate:.1f}", f"{rate / base:.2f}x")
    return table


class _TimingRecorder(NullRecorder):
    """Keeps the last step's stage timings, records nothing else."""

    def __init__(self) -> None:
        self.timings: dict = {}

    def append_step(self, record) -> None:
        self.timings = record["timings"]


if __name__ == "__main__":
    main()
