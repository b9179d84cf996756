"""The loop resizes only what changed when the environment reports damage, and the model sees the same images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

import agent.imaging
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from environments.base import Box, Command, Damage, EnvironmentBase, Observation, StepResult, next_frame
from environments.wrappers import Wrapper
from tests.core.test_imaging import ui_like

SCREEN = Size(1920, 1080)
MODEL = Size(1316, 728)  # AgentConfig's default pixel budget at 1080p


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


class DamageScreen(EnvironmentBase):
    """A 1080p screen where clicks light up a button, typing fills a field and a clock ticks on every look.

    Like the desktop environment, it tells what changed since the last screenshot it handed out.
    """

    def __init__(self) -> None:
        self.screen = ui_like(SCREEN)
        self.frame: int | None = None
        self.pending: list[Box] = []
        self.observed: list[tuple[Observation, bool]] = []  # (observation, taken by the loop)
        self.peeking = False
        self.ticks = 0

    def paint(self, box: Box, colour: tuple[int, int, int], text: str) -> None:
        x0, y0, x1, y1 = box = (max(box[0], 0), max(box[1], 0), min(box[2], SCREEN.width), min(box[3], SCREEN.height))
        patch = Image.new("RGB", (x1 - x0, y1 - y0), colour)
        ImageDraw.Draw(patch).text((4, 4), text, fill=(0, 0, 0))
        self.screen.paste(patch, (x0, y0))
        self.pending.append(box)

    def reset(self) -> Observation:
        return self.observe()

    def observe(self) -> Observation:
        self.ticks += 1
        self.paint((1800, 1050, 1910, 1074), (230, 230, 230), f"12:{self.ticks:02d}")
        frame = next_frame()
        damage = None if self.frame is None else Damage(self.frame, tuple(self.pending))
        observation = Observation(self.screen.copy(), SCREEN, frame=frame, damage=damage)
        self.frame, self.pending = frame, []
        self.observed.append((observation, not self.peeking))
        return observation

    def execute(self, command: Command) -> StepResult:
        if command.name == "left_click":
            x, y = int(command.point.x), int(command.point.y)
            self.paint((x - 60, y - 20, x + 60, y + 20), (0, 120, 215), "pressed")
        elif command.name == "type":
            self.paint((300, 200, 900, 230), (255, 255, 255), command.action.text)
        return StepResult()


class Peek(Wrapper):
    """Someone else looks at the screen after the ``at``-th action, so the loop's next damage is not
    relative to the frame it resized last."""

    def __init__(self, env: DamageScreen, at: int) -> None:
        super().__init__(env)
        self.at, self.count = at, 0

    def execute(self, command: Command) -> StepResult:
        result = self.env.execute(command)
        self.count += 1
        if self.count == self.at:
            self.env.peeking = True
            self.env.observe()
            self.env.peeking = False
        return result


def test_the_model_gets_full_resizes_of_each_screenshot_while_only_damage_is_resized(monkeypatch) -> None:
    full_resizes = []
    real = agent.imaging.to_model_image
    monkeypatch.setattr(agent.imaging, "to_model_image", lambda image, size: full_resizes.append(1) or real(image, size))
    texts = [
        call(action="left_click", coordinate=[100, 100]),
        call(action="type", text="hello world"),
        call(action="left_click", coordinate=[1300, 720]),  # a corner: its patch reads support at the edge
        call(action="left_click", coordinate=[600, 400]),
        call(action="type", text="again"),  # after this one the screen is looked at outside the loop
        call(action="left_click", coordinate=[10, 700]),
        call(action="terminate", status="success"),
    ]
    env = DamageScreen()
    model = ReplayModel(texts)
    result = Agent(model, Peek(env, at=5), AgentConfig(max_steps=10, history_images=2)).run("click around")
    assert (result.outcome, result.steps) == ("success", 7)

    # step 1 has no damage; step 6 follows the peek, so its damage is "since" a frame the loop never resized
    assert len(full_resizes) == 2
    seen = [observation for observation, by_loop in env.observed if by_loop]
    assert len(seen) == 7 and len(env.observed) == 8
    assert seen[5].damage.since != seen[4].frame and seen[4].damage.since == seen[3].frame

    for step, (observation, prompt) in enumerate(zip(seen, model.prompts, strict=True), 1):
        image = prompt.images[-1]
        assert image.size == (MODEL.width, MODEL.height) and prompt.meta["model_size"] == [MODEL.width, MODEL.height]
        # checked after the run: images already in a prompt (and the history deque) were never patched later
        for reference in (real(observation.screenshot, MODEL),
                          observation.screenshot.resize((MODEL.width, MODEL.height), Image.Resampling.BICUBIC)):
            diff = np.abs(np.asarray(image, np.int16) - np.asarray(reference, np.int16))
            assert np.percentile(diff, 99.9) <= 4 and diff.mean() < 0.1, (step, diff.max(), diff.mean())
        if step > 1:
            assert prompt.images[-2] is model.prompts[step - 2].images[-1]


@pytest.mark.parametrize("history_images", [1, 3])
def test_a_run_starts_from_a_fresh_cache(history_images: int, monkeypatch) -> None:
    """A second run on the same environment must not patch the first run's last image."""
    full_resizes = []
    real = agent.imaging.to_model_image
    monkeypatch.setattr(agent.imaging, "to_model_image", lambda image, size: full_resizes.append(1) or real(image, size))
    env = DamageScreen()
    runner = Agent(ReplayModel([call(action="left_click", coordinate=[200, 200]), call(action="terminate", status="success")] * 2),
                   env, AgentConfig(history_images=history_images))
    assert runner.run("first").outcome == "success"
    assert runner.run("second").outcome == "success"
    assert len(full_resizes) == 2  # one per run; each run's second step is patched


class Checking:
    """A model that keeps no prompts (as real backends) and checks each image when it gets it."""

    name = "checking"

    def __init__(self, env: DamageScreen, texts: list[str]) -> None:
        self.env, self.texts = env, iter(texts)
        self.seen: list[tuple[object, np.ndarray]] = []  # every image handed to the model, and its pixels then

    def generate(self, prompt):
        from agent.models.base import Generation

        image = prompt.images[-1]
        screenshot = [obs for obs, by_loop in self.env.observed if by_loop][-1].screenshot
        reference = agent.imaging.to_model_image(screenshot, MODEL)
        diff = np.abs(np.asarray(image, np.int16) - np.asarray(reference, np.int16))
        assert np.percentile(diff, 99.9) <= 4 and diff.mean() < 0.1, (diff.max(), diff.mean())
        self.seen.append((image, np.asarray(image).copy()))
        return Generation(next(self.texts))

    def describe(self) -> dict:
        return {"name": self.name}


def test_model_images_handed_out_never_change_and_later_steps_are_patched(monkeypatch) -> None:
    """Ownership is explicit: the cache patches a copy, so a model (or anyone) may keep every image."""
    full_resizes = []
    real = agent.imaging.to_model_image
    monkeypatch.setattr(agent.imaging, "to_model_image", lambda image, size: full_resizes.append(1) or real(image, size))
    texts = [call(action="left_click", coordinate=[100 + 80 * i, 300]) for i in range(6)]
    env = DamageScreen()
    model = Checking(env, [*texts, call(action="terminate", status="success")])
    result = Agent(model, env, AgentConfig(max_steps=10)).run("click along")
    assert result.outcome == "success", result
    assert len({id(image) for image, _ in model.seen}) == len(model.seen) == 7
    assert len(full_resizes) == 1 + 7  # the loop's first step; every later one was patched (+ Checking's references)
    assert all(np.array_equal(np.asarray(image), pixels) for image, pixels in model.seen)
