"""The pure parts of the handshake and of the structured-output regexes (no server needed)."""

from __future__ import annotations

import random
import re

import pytest

from agent.geometry import Geometry, Size, smart_resize
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


# -- the handshake's token-id reading and its one-probe verdict ----------------------------------------------
def test_image_runs_read_each_image_between_its_markers() -> None:
    from agent.models.resolution import QWEN_MARKERS, image_runs

    start, pad, end = QWEN_MARKERS
    ids = [1, 5, 6, start, *[pad] * 1196, end, 7, start, *[pad] * 6, end, 8, 2]
    assert image_runs(ids, 2) == (QWEN_MARKERS, [1196, 6])
    assert image_runs(ids, 1) is None  # two images in the ids, one in the request: not readable
    tiny = (521, 524, 522)  # the tiny test model's own tokenizer: found from the ids' structure
    ids = [513, 82, 88, 316, 521, *[524] * 4, 522, 71, 72, 514]
    assert image_runs(ids, 1) == (tiny, [4])
    assert image_runs([513, 82, 521, 524, 522, 71, 514], 1) is None  # a one-token image looks like any text token
    assert image_runs([513, 82, 521, 524, 522, 71, 514], 1, tiny) == (tiny, [1])  # unless the markers are known
    assert image_runs([513, 521, 524, 524, 71, 514], 1, tiny) is None  # no end marker: not an image


def _outcome(size: Size, *, min_pixels: int, max_pixels: int) -> int:
    h, w = smart_resize(size.height, size.width, min_pixels=min_pixels, max_pixels=max_pixels)
    return tokens_for(Size(w, h))


SCREENSHOTS = [(1280, 720), (1920, 1080), (1080, 2400), (2560, 1440), (750, 1334), (1170, 2532), (3840, 2160),
               (1366, 768), (800, 600), (2880, 1800), (5120, 2880), (640, 480)]


@pytest.mark.parametrize("client_max", [1_003_520, 12_845_056])
def test_the_probe_is_never_fooled_by_a_server_that_resizes_like_qwen(client_max: int) -> None:
    """For every screenshot and many server limits: the probe's token difference is the expected one exactly
    when the server keeps both the real image and the largest the client can send (and so every size
    between). No resize, above or below, of one or both images fakes it."""
    from agent.models.resolution import choose_probe

    rng = random.Random(7)
    server_maxes = sorted({*range(3136, 13_000_000, 99_991), *(rng.randrange(3136, 13_000_000) for _ in range(300)),
                           client_max, client_max - 1, 1_003_520})
    server_mins = [3136, 50_000, 200_704, 700_000, 1_000_000]
    decided = 0
    for shot in SCREENSHOTS:
        real = Geometry.for_screenshot(Size(*shot), max_pixels=client_max).model
        probe = choose_probe(real, client_max)
        if probe is None:
            continue
        decided += 1
        assert probe.width * probe.height == client_max  # the largest area the client can send
        expected = tokens_for(probe) - tokens_for(real)
        for smin in server_mins:
            for smax in server_maxes:
                if smin > smax:
                    continue
                kept = smin <= real.width * real.height and probe.width * probe.height <= smax
                difference = (_outcome(probe, min_pixels=smin, max_pixels=smax)
                              - _outcome(real, min_pixels=smin, max_pixels=smax))
                assert (difference == expected) == kept, (shot, probe, smin, smax)
    assert decided >= len(SCREENSHOTS) - 1  # a probe was found for (nearly) every screenshot


def test_choose_probe_falls_back_to_the_text_when_the_image_is_already_the_largest() -> None:
    from agent.models.resolution import choose_probe, largest_sizes

    assert Size(1120, 896) in largest_sizes(1_003_520)
    assert choose_probe(Size(1120, 896), 1_003_520) is None
    assert choose_probe(Size(1288, 728), 1_003_520) is not None
