"""The rendered prompt follows the native Nous layout (reference §3)."""

from __future__ import annotations

import pytest
from PIL import Image

from agent.geometry import Size
from agent.prompt import IMAGE_PLACEHOLDER, build_prompt
from tools import COMPUTER_USE, MOBILE_USE


def _image(size: Size) -> Image.Image:
    return Image.new("RGB", (size.width, size.height))


def test_layout_history_and_single_image() -> None:
    size = Size(1288, 728)
    prompt = build_prompt(MOBILE_USE, "Open Settings", ['{"action": "click", "coordinate": [1, 2]}', '{"action": "wait"}'],
                          [_image(size)], size)
    text = prompt.render()
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions")
    assert '<tools>\n{"type": "function", "function": {"name_for_human": "mobile_use", "name": "mobile_use"' in text
    assert ('For each function call, return a json object with function name and arguments within <tool_call></tool_call> '
            'XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n') in text
    assert ("<|im_start|>user\nThe user query: Open Settings\nTask progress (You have done the following operation on the "
            'current device): Step 1: {"action": "click", "coordinate": [1, 2]}; Step 2: {"action": "wait"}; '
            f"{IMAGE_PLACEHOLDER}<|im_end|>\n<|im_start|>assistant\n") in text
    assert text.endswith("<|im_start|>assistant\n")
    assert "The screen's resolution is 1288x728." in text


def test_feedback_prefill_and_several_images() -> None:
    size = Size(56, 56)
    prompt = build_prompt(COMPUTER_USE, "x", [], [_image(size)] * 3, size, feedback="unknown action 'fly'.",
                          prefill='<tool_call>\n{"name": "computer_use"')
    text = prompt.render()
    assert text.count(IMAGE_PLACEHOLDER) == 3
    assert "Your previous answer could not be used: unknown action 'fly'. Look at the screenshot again" in text
    assert text.endswith('<|im_start|>assistant\n<tool_call>\n{"name": "computer_use"')
    messages = prompt.messages(["data:a", "data:b", "data:c"])
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert [part["type"] for part in messages[1]["content"]] == ["text", "image_url", "image_url", "image_url"]


def test_images_must_be_at_model_size() -> None:
    with pytest.raises(ValueError, match="expected model size 56x56"):
        build_prompt(COMPUTER_USE, "x", [], [_image(Size(57, 56))], Size(56, 56))


def test_reasoning_variant_asks_for_conclusion() -> None:
    size = Size(56, 56)
    assert "<conclusion>" in build_prompt(COMPUTER_USE, "x", [], [_image(size)], size, reasoning=True).system


def test_image_first_for_the_screenspot_harness_layout() -> None:
    size = Size(56, 56)
    prompt = build_prompt(COMPUTER_USE, "x", [], [_image(size)], size)
    flipped = type(prompt)(prompt.system, "Click OK", prompt.images, image_first=True)
    assert f"<|im_start|>user\n{IMAGE_PLACEHOLDER}Click OK<|im_end|>" in flipped.render()
    assert [p["type"] for p in flipped.messages(["data:a"])[1]["content"]] == ["image_url", "text"]
