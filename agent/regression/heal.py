"""Re-grounding a drifted step: ask the model to do the recorded step's intent on the live screen.

The model gets the session's instruction, the recorded action (with the name of the element it hit,
when the recording knows it), a crop of the recorded target (enlarged on a neutral canvas of the model's
image size, so every backend takes it like a screenshot) and the live screen, newest last. Its answer
goes through the loop's own parse → validate → map → execute, with the same bounded retries and feedback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

from agent.errors import ModelOutputError
from agent.geometry import Geometry, Size
from agent.imaging import to_model_image
from agent.loop import Agent
from agent.mapping import to_command
from agent.prompt import build_prompt
from environments.base import Command, StepResult
from tools.base import Action, Tool

CONTEXT = 16  # input px of context kept around the target in the crop

INSTRUCTION = (
    "{instruction}\n"
    "You are repeating a recorded session whose screen has changed since it was recorded. "
    "In the recording, step {step} was {action}{target}. The first image shows that target as it looked in "
    "the recording; the second image is the current screen. Do the same step on the current screen: answer "
    "with one {tool} call of the action \"{name}\" at the element that now plays the role of the recorded target."
)


@dataclass
class Heal:
    """What re-grounding did: the executed action and command, its outcome, the raw answers."""

    action: Action | None = None
    command: Command | None = None
    outcome: StepResult | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def model_calls(self) -> int:
        return len(self.attempts)


def target_crop(recorded: Image.Image, recorded_geometry: Geometry, box: tuple | None, model: Size) -> Image.Image:
    """The recorded target (plus context) enlarged onto a gray canvas of the model's image size."""
    canvas = Image.new("RGB", (model.width, model.height), (128, 128, 128))
    if box is None:
        return canvas
    sx = recorded.width / recorded_geometry.input.width
    sy = recorded.height / recorded_geometry.input.height
    left = max(0, (box[0] - CONTEXT) * sx)
    top = max(0, (box[1] - CONTEXT) * sy)
    right = min(recorded.width, (box[2] + CONTEXT) * sx)
    bottom = min(recorded.height, (box[3] + CONTEXT) * sy)
    if right - left < 2 or bottom - top < 2:
        return canvas
    crop = recorded.convert("RGB").crop((round(left), round(top), round(right), round(bottom)))
    scale = min(model.width * 0.8 / crop.width, model.height * 0.8 / crop.height, 4.0)
    crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.Resampling.LANCZOS)
    x, y = (model.width - crop.width) // 2, (model.height - crop.height) // 2
    canvas.paste(crop, (x, y))
    ImageDraw.Draw(canvas).rectangle((x - 3, y - 3, x + crop.width + 2, y + crop.height + 2), outline=(220, 0, 0), width=3)
    return canvas


def heal_step(
    model: Any,
    env: Any,
    tool: Tool,
    *,
    instruction: str,
    step: dict[str, Any],
    history: list[str],
    crop: Image.Image,
    screenshot: Image.Image,
    geometry: Geometry,
    max_retries: int = 2,
) -> Heal:
    """Ask ``model`` for the recorded step on the live screen and execute its answer on ``env``.

    The answer must be the recorded action's kind (a click stays a click); anything else, or no usable
    answer within the retries, is a failed heal, never a silent substitute.
    """
    name = step["action"]["action"]
    target = (step.get("result") or {}).get("info", {}).get("target")
    text = INSTRUCTION.format(
        instruction=instruction, step=step["index"], action=json.dumps(step["action"], ensure_ascii=False),
        target=f" on {target}" if target else "", tool=tool.name, name=name,
    )
    live = to_model_image(screenshot, geometry.model)
    heal, feedback = Heal(), None
    for _ in range(max_retries + 1):
        prompt = build_prompt(tool, text, history, [crop, live], geometry.model, feedback=feedback)
        answer = model.generate(prompt).text
        tried: dict[str, Any] = {"raw": answer, "feedback": feedback, "heal": True}
        heal.attempts.append(tried)
        try:
            action = Agent._parse(tool, answer, tried)
            if action.action != name:
                raise ModelOutputError(f"the recorded step is a {name}, not a {action.action}; answer with a {name}")
            command = to_command(action, geometry)
        except ModelOutputError as exc:
            tried["error"] = feedback = str(exc)
            continue
        tried["action"] = action.to_json_dict()
        heal.action, heal.command = action, command
        heal.outcome = env.execute(command)
        return heal
    heal.error = f"no usable answer in {max_retries + 1} tries: {feedback}"
    return heal
