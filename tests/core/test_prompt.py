"""The rendered prompt follows the native Nous layout (reference §3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.prompt import IMAGE_PLACEHOLDER, build_prompt, history_entry
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.replay import ReplayEnvironment, ReplayEvaluation
from tools import COMPUTER_USE, MOBILE_USE


def _image(size: Size) -> Image.Image:
    return Image.new("RGB", (size.width, size.height))


def test_layout_history_and_single_image() -> None:
    size = Size(1288, 728)
    history = [history_entry("mobile_use", MOBILE_USE.validate({"action": "click", "coordinate": [1, 2]})),
               history_entry("mobile_use", MOBILE_USE.validate({"action": "wait"}))]
    prompt = build_prompt(MOBILE_USE, "Open Settings", history, [_image(size)], size)
    text = prompt.render()
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions")
    assert '<tools>\n{"type": "function", "function": {"name_for_human": "mobile_use", "name": "mobile_use"' in text
    assert ('For each function call, return a json object with function name and arguments within <tool_call></tool_call> '
            'XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n') in text
    assert ("<|im_start|>user\nThe user query: Open Settings\nTask progress (You have done the following operation on the "
            'current device): Step 1: {"name": "mobile_use", "arguments": {"action": "click", "coordinate": [1, 2]}}; '
            'Step 2: {"name": "mobile_use", "arguments": {"action": "wait"}}; '
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


HISTORY = [
    # (tool, arguments the model sent, answer text, reasoning, entry)
    ("mobile_use", {"action": "open", "text": "File Manager"}, "", False,
     '{"name": "mobile_use", "arguments": {"action": "open", "text": "File Manager"}}'),  # the mobile cookbook's Step 1
    ("computer_use", {"action": "left_click", "coordinate": [644, 342]}, "", False,
     '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [644, 342]}}'),
    ("computer_use", {"action": "left_click", "coordinate": [644.5, 342]}, "", False,
     '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [644.5, 342]}}'),
    ("computer_use", {"action": "wait"}, "", False,  # a default the model left out stays out
     '{"name": "computer_use", "arguments": {"action": "wait"}}'),
    ("computer_use", {"action": "type", "text": "Zoë \"東京\""}, "", False,
     '{"name": "computer_use", "arguments": {"action": "type", "text": "Zoë \\"東京\\""}}'),
    ("computer_use", {"action": "wait", "time": 1}, "<tool_call>…</tool_call>\n<conclusion> Waited for the page. </conclusion>",
     True, "Waited for the page."),
    ("computer_use", {"action": "wait", "time": 1}, "<tool_call>…</tool_call>", True,  # no conclusion: the call
     '{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}'),
    ("computer_use", {"action": "wait", "time": 1}, "<tool_call>…</tool_call><conclusion>Waited.</conclusion>", False,
     '{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}'),  # conclusions only in the reasoning variant
]


@pytest.mark.parametrize(("tool", "arguments", "answer", "reasoning", "entry"), HISTORY)
def test_history_entries_are_cookbook_calls(tool, arguments, answer, reasoning, entry) -> None:
    action = (MOBILE_USE if tool == "mobile_use" else COMPUTER_USE).validate(arguments)
    assert history_entry(tool, action, answer, reasoning=reasoning) == entry


def test_a_conclusion_cut_off_at_the_token_limit_is_not_history() -> None:
    action = COMPUTER_USE.validate({"action": "wait", "time": 1})
    cut = "<tool_call>…</tool_call>\n<conclusion>Waited for the"
    assert history_entry("computer_use", action, cut, reasoning=True, complete=False) == (
        '{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}')
    closed = "<tool_call>…</tool_call>\n<conclusion>Waited.</conclusion> and then"
    assert history_entry("computer_use", action, closed, reasoning=True, complete=False) == "Waited."


SESSION = Path(__file__).resolve().parents[2] / "tasks" / "sessions" / "demo-signin-notifications"


def test_shipped_session_replays_and_scores_with_cookbook_history(tmp_path: Path) -> None:
    """Recorded before history entries were whole calls: it replays, and step scoring ignores history wording."""
    recorded = Trajectory.load(SESSION)
    model = ReplayModel.from_trajectory(SESSION)
    result = Agent(model, ReplayEnvironment(recorded), AgentConfig(max_steps=len(recorded.steps)),
                   TrajectoryWriter(tmp_path / "strict")).run(recorded.run["instruction"])
    assert (result.outcome, result.steps) == (recorded.result["outcome"], len(recorded.steps))
    first, second = recorded.steps[0]["action"], recorded.steps[1]["action"]
    expected = (f"Step 1: {json.dumps({'name': 'computer_use', 'arguments': first})}; "
                f"Step 2: {json.dumps({'name': 'computer_use', 'arguments': second})}; ")
    assert expected.replace(".0", "") in model.prompts[2].user  # [644, 342], as the model wrote it
    evaluation = ReplayEvaluation(recorded)
    Agent(ReplayModel.from_trajectory(SESSION), evaluation, AgentConfig(max_steps=len(recorded.steps)),
          TrajectoryWriter(tmp_path / "scored")).run(recorded.run["instruction"])
    assert evaluation.summary()["step_accuracy"] == 1.0
