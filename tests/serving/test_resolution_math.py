"""The pure parts of the handshake and of the structured-output regexes (no server needed)."""

from __future__ import annotations

import re

import pytest

from agent.geometry import Geometry, Size
from agent.models.resolution import mismatch_message, server_size, tokens_for
from agent.models.structured import int_range, tool_call_outputs, tool_call_regex
from agent.parser import parse_tool_calls
from agent.prompt import Prompt
from tools import COMPUTER_USE


@pytest.mark.parametrize("n", [0, 1, 9, 10, 27, 99, 100, 727, 1000, 1287, 2407])
def test_int_range_matches_exactly_0_to_n(n: int) -> None:
    pattern = re.compile(int_range(n))
    assert [i for i in range(3000) if pattern.fullmatch(str(i))] == list(range(n + 1))
    assert not pattern.fullmatch("01")


def test_tool_call_regex_admits_only_valid_calls_inside_the_screen() -> None:
    pattern = re.compile(tool_call_regex("computer_use", 1288, 728))
    call = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [%d, %d]}}\n</tool_call>'
    assert pattern.fullmatch(call % (1287, 727)) and not pattern.fullmatch(call % (1288, 10))
    assert not pattern.fullmatch(call % (10, 728))
    text = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "hello 42"}}\n</tool_call>'
    assert pattern.fullmatch(text)
    assert COMPUTER_USE.validate(parse_tool_calls(text)[0].arguments).text == "hello 42"


def test_prefilled_prompts_get_the_rest_of_the_point() -> None:
    prefill = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": ['
    regex = tool_call_outputs(Prompt("s", "u", prefill=prefill, meta={"model_size": [100, 50]}))["regex"]
    assert re.fullmatch(regex, '99, 49]}}\n</tool_call>') and not re.fullmatch(regex, '99, 50]}}\n</tool_call>')
    assert tool_call_outputs(Prompt("s", "u", prefill="<thinking>", meta={"model_size": [100, 50]})) is None


@pytest.mark.parametrize("size, server_max", [(Size(1920, 1080), 1_003_520), (Size(1080, 2400), 1_003_520),
                                               (Size(2560, 1440), 2_000_000)])
def test_server_size_recovers_what_a_lower_server_limit_did(size: Size, server_max: int) -> None:
    sent = Geometry.for_screenshot(size, max_pixels=12_845_056).model
    seen = Geometry.for_screenshot(sent, max_pixels=server_max).model  # the server's resize of our image
    assert server_size(sent, tokens_for(seen)) == seen


def test_mismatch_message_names_both_sizes_and_the_fixes() -> None:
    message = mismatch_message("http://h/v1", Size(1932, 1092), 1222, per_request="It refused.", client_limit=12_845_056)
    assert "1932x1092" in message and "1316x728" in message and "1222 image tokens instead of 2691" in message
    assert "--max-pixels 958048" in message and '{"max_pixels": 12845056}' in message
    assert "--trust-request-mm-kwargs" in message


def test_a_server_without_usage_gets_one_warning_and_no_extra_request(caplog) -> None:
    from PIL import Image

    from agent.models.openai import OpenAIModel
    from agent.models.testing import ScriptedServer  # reports no prompt tokens

    with ScriptedServer(["ok"]) as server, caplog.at_level("WARNING", logger="agent.models.openai"):
        model = OpenAIModel(server.base_url, "qwen")
        for _ in range(3):
            generation = model.generate(Prompt("s", "u", (Image.new("RGB", (56, 56)),)))
            assert generation.image_tokens is None  # nothing measured, nothing claimed
        requests = len(server.requests)
    assert requests == 3 and model.handshake["status"] == "no_usage" and model.handshake["extra_requests"] == 0
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "reports no usage.prompt_tokens" in warnings[0].getMessage()
