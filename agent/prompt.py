"""Render the native Nous function-calling prompt (reference §3) from the data file's text."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from agent.geometry import Size
from tools.base import Action, Tool
from tools.schema import function_definition

if TYPE_CHECKING:
    from PIL import Image

IMAGE_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"


@cache
def prompt_text(name: str = "qwen25vl") -> dict[str, Any]:
    """The prompt data file ``agent/prompts/NAME.toml``."""
    return tomllib.loads(resources.files("agent.prompts").joinpath(f"{name}.toml").read_text("utf-8"))


@dataclass(frozen=True)
class Prompt:
    """One request to the model: system text, user text, screenshots at model size, optional prefill."""

    system: str
    user: str
    images: tuple[Image.Image, ...] = ()
    prefill: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    image_first: bool = False  # the agent cookbooks put the screenshot after the text; ScreenSpot-Pro's harness before

    def render(self) -> str:
        """The ChatML text a local model sees; one image placeholder per screenshot, after (or before) the text."""
        parts = [f"<|im_start|>system\n{self.system}<|im_end|>\n"] if self.system else []
        images = IMAGE_PLACEHOLDER * len(self.images)
        user = images + self.user if self.image_first else self.user + images
        parts.append(f"<|im_start|>user\n{user}<|im_end|>\n")
        parts.append(f"<|im_start|>assistant\n{self.prefill}")
        return "".join(parts)

    def messages(self, image_urls: list[str]) -> list[dict[str, Any]]:
        """OpenAI chat messages; ``image_urls`` are the encoded ``images`` (data URIs), in order."""
        if len(image_urls) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(image_urls)} urls")
        text = [{"type": "text", "text": self.user}]
        images = [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
        content: list[dict[str, Any]] = images + text if self.image_first else text + images
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": content})
        if self.prefill:
            messages.append({"role": "assistant", "content": self.prefill})
        return messages


@lru_cache(maxsize=64)
def system_prompt(tool: Tool, model_size: Size, *, reasoning: bool = False, text: str = "qwen25vl") -> str:
    """The system turn: the tool's definition with the model-space resolution in its description.

    Cached: it depends only on its arguments, and generating the schema costs milliseconds per step.
    """
    data = prompt_text(text)
    description = data["tools"][tool.name]["description"].format(width=model_size.width, height=model_size.height)
    tools = json.dumps(function_definition(tool, description), ensure_ascii=False)
    system = data["system"].format(tools=tools)
    return system + data["reasoning"] if reasoning else system


def history_entry(tool: str, action: Action, answer: str = "", *, reasoning: bool = False, complete: bool = True) -> str:
    """One earlier step as the cookbooks render it: the whole call, ``{"name": TOOL, "arguments": {...}}``.

    The arguments are the fields the model set (defaults it left out stay out), integral numbers written
    as integers, as in the Qwen2.5-VL mobile cookbook's stored prompt. In the reasoning variant the
    answer's ``<conclusion>`` is the entry instead, when the model closed it (``complete``: the answer
    was not cut off at the token limit, or the conclusion was closed before it).
    """
    if reasoning and (conclusion := _conclusion(answer, complete)):
        return conclusion
    arguments = _integral(action.model_dump(mode="json", exclude_unset=True, exclude_none=True))
    return json.dumps({"name": tool, "arguments": arguments}, ensure_ascii=False)


def _conclusion(answer: str, complete: bool) -> str:
    if "<conclusion>" not in answer:
        return ""
    inside = answer.split("<conclusion>", 1)[1]
    if "</conclusion>" not in inside and not complete:
        return ""  # cut off inside the conclusion: the call itself is the better summary
    return inside.split("</conclusion>", 1)[0].strip()


def _integral(value: Any) -> Any:
    """Floats that are whole numbers as ints: ``[644, 342]``, not ``[644.0, 342.0]``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


def history_text(entries: list[str], *, text: str = "qwen25vl") -> str:
    """``Step 1: {...}; Step 2: {...}; `` from the history entries (`history_entry`: calls or conclusions)."""
    template = prompt_text(text)["history_step"]
    return "".join(template.format(index=i, entry=entry) for i, entry in enumerate(entries, start=1))


def build_prompt(
    tool: Tool,
    instruction: str,
    history: list[str],
    images: list[Image.Image],
    model_size: Size,
    *,
    feedback: str | None = None,
    reasoning: bool = False,
    prefill: str = "",
    text: str = "qwen25vl",
) -> Prompt:
    """Everything the model sees for one step. ``images`` are already at ``model_size``, newest last."""
    for image in images:
        if image.size != (model_size.width, model_size.height):
            raise ValueError(f"screenshot is {image.size[0]}x{image.size[1]}, expected model size {model_size}")
    data = prompt_text(text)
    user = data["user"].format(instruction=instruction, history=history_text(history, text=text))
    if feedback:
        user += data["feedback"].format(reason=feedback.rstrip("."))
    return Prompt(
        system_prompt(tool, model_size, reasoning=reasoning, text=text),
        user,
        tuple(images),
        prefill,
        {"model_size": [model_size.width, model_size.height]},
    )
