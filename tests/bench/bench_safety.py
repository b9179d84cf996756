"""What the safety wrappers cost per step: the loop guard's screen check and fingerprint (with and without a
damage report) at 1280x720 and 1920x1080, next to the whole-screen comparison it replaced, measured in the
same run; the gate's rule match, the secrets scrub; and the report writer per step."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw
from rich.console import Console
from rich.table import Table

from agent.geometry import ScreenPoint, Size
from environments.base import Command, Damage, EnvironmentBase, Observation, StepResult, next_frame
from environments.safety import LoopGuard, SafetyGate, Secrets
from environments.safety.loop_guard import CHANGED_PIXELS, PIXEL_LEVEL, _changed
from tools import get_tool

console = Console()
SIZES = (Size(1280, 720), Size(1920, 1080))
ROUNDS = 5
TOOL = get_tool("computer_use")


def busy_screen(size: Size = SIZES[-1]) -> Image.Image:
    image = Image.effect_noise((size.width, size.height), 40).convert("RGB")
    draw = ImageDraw.Draw(image)
    for y in range(0, size.height, 24):
        draw.text((10, y), "lorem ipsum dolor sit amet " * 8, fill=(20, 20, 20))
    return image


class Screen(EnvironmentBase):
    """A busy screen; each action repaints a 200x40 button (``mode="box"``), the whole screen ("full"), or
    nothing ("none"); with ``damage`` it says which rectangle changed, as the desktop does."""

    def __init__(self, mode: str, damage: bool, size: Size = SIZES[-1]) -> None:
        self.mode, self.damage, self.size = mode, damage, size
        self.image, self.frame, self.n = busy_screen(size), next_frame(), 0
        self.boxes: tuple = ()

    def reset(self) -> Observation:
        return Observation(self.image, self.size, frame=self.frame)

    def observe(self) -> Observation:
        since, self.frame = self.frame, next_frame()
        damage = Damage(since, self.boxes) if self.damage else None
        self.boxes = ()
        image = self.image if self.damage else self.image.copy()  # a new capture, as a real screen gives
        return Observation(image, self.size, frame=self.frame, damage=damage)

    def execute(self, command: Command) -> StepResult:
        self.n += 1
        if self.mode == "box":
            self.image = self.image.copy()
            ImageDraw.Draw(self.image).rectangle([100, 100, 299, 139], fill=(self.n * 37 % 256, 90, 200))
            self.boxes = ((100, 100, 300, 140),)
        elif self.mode == "full":
            self.image = self.image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            self.boxes = ((0, 0, self.size.width, self.size.height),)
        return StepResult()


class WholeScreenGuard(LoopGuard):
    """The guard as it was before column runs, for comparison: without a damage report both whole
    screenshots are differenced at full size and every differing channel sample counted."""

    def _judge(self, before, after, damage):
        if damage is not None and damage.since == before.frame or before.image is after.image:
            return _changed(before, after, damage)
        histogram = ImageChops.difference(before.image, after.image).histogram()
        differing = sum(sum(histogram[c * 256 + PIXEL_LEVEL:(c + 1) * 256]) for c in range(3))
        return differing >= CHANGED_PIXELS, "pixels"


def step_times(env, n: int = 12) -> list[float]:
    """ms per step (execute + observe) for ``n`` clicks, alternating two, after a reset."""
    command = Command(TOOL.validate({"action": "left_click", "coordinate": [10, 10]}), ScreenPoint(10, 10))
    env.reset()
    samples = []
    for i in range(n):
        t = time.perf_counter()
        env.execute(Command(TOOL.validate({"action": "left_click", "coordinate": [10 + i, 10]}),
                            ScreenPoint(10 + i, 10)) if i % 2 else command)
        env.observe()
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def main() -> None:
    cases = (("none", True, "nothing changes, damage says so"), ("box", True, "200x40 button repaints, damage"),
             ("box", False, "200x40 button repaints, no damage"), ("full", False, "whole screen changes, no damage"),
             ("none", False, "nothing changes, no damage"))
    variants = {"bare": lambda env: env,
                "now": lambda env: LoopGuard(env, stop_after=10_000, warn_after=10_000),
                "before": lambda env: WholeScreenGuard(env, stop_after=10_000, warn_after=10_000)}
    for size in SIZES:
        table = Table(title=f"Loop guard, {size.width}x{size.height}: median ms per step (execute + observe); the three "
                            f"interleaved in {ROUNDS} rounds of 12 steps, so load hits them alike")
        for column in ("case", "bare", "guard cost", "before: whole screen", "before / now"):
            table.add_column(column, justify="right" if column != "case" else "left")
        for mode, damage, label in cases:
            samples: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(ROUNDS):
                for name, wrap in variants.items():
                    samples[name] += step_times(wrap(Screen(mode, damage, size)))
            bare, now, before = (statistics.median(samples[name]) for name in variants)
            table.add_row(label, f"{bare:.2f}", f"{now - bare:.2f}", f"{before - bare:.2f}",
                          f"{(before - bare) / max(now - bare, 1e-3):.1f}x")
        console.print(table)

    gate = SafetyGate(Screen("none", True))
    gate.reset()
    typed = Command(TOOL.validate({"action": "type", "text": "echo hello world && ls -la ~/projects"}))
    t = time.perf_counter()
    for _ in range(2000):
        gate.decide(typed)
    console.print(f"gate decision (defaults, typed text): {(time.perf_counter() - t) / 2000 * 1e6:.1f} µs")
    secrets = Secrets(Screen("none", True), {"PW": "correct horse battery staple", "TOKEN": "abc123xyz"})
    info = {"shell": "input text 'hello'", "url": "https://example.com/?q=1", "target": "input#password"}
    t = time.perf_counter()
    for _ in range(2000):
        secrets.scrub(info)
    console.print(f"secrets scrub of a step's info: {(time.perf_counter() - t) / 2000 * 1e6:.1f} µs")

    from agent.loop import Agent, AgentConfig
    from agent.models import ReplayModel
    from agent.trajectory import TrajectoryWriter
    from agent.viewer import write_report

    with tempfile.TemporaryDirectory() as tmp:
        texts = [f'<tool_call>{{"name": "computer_use", "arguments": {{"action": "left_click", "coordinate": [{10 + i}, 10]}}}}</tool_call>'
                 for i in range(99)] + ['<tool_call>{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}</tool_call>']
        Agent(ReplayModel(texts), Screen("box", True), AgentConfig(max_steps=100), TrajectoryWriter(Path(tmp) / "r")).run("x")
        t = time.perf_counter()
        path = write_report(Path(tmp) / "r")
        console.print(f"report of a 100-step run: {(time.perf_counter() - t) * 1000:.0f} ms, "
                      f"{path.stat().st_size / 1024:.0f} KiB of HTML beside its screenshots")


if __name__ == "__main__":
    main()
