"""The resolution handshake against servers that are not vLLM: token ids, usage only, strict, resizing above an area.

`QwenLikeServer` resizes images with Qwen's rule under its own limits and counts tokens like a Qwen server,
so what is asserted is what `OpenAIModel` makes of a server's answers: how many extra requests it spends
(at most one per model instance while the sizes agree) and that no resize passes unnoticed, whenever the
image that would be resized arrives.
"""

from __future__ import annotations

import threading

import pytest
from PIL import Image

from agent.geometry import Geometry, Size
from agent.models.openai import OpenAIModel
from agent.models.resolution import ResolutionMismatch, tokens_for
from agent.prompt import Prompt
from tests.qwen_like_server import QwenLikeServer

BIG = 12_845_056  # ScreenSpot's client max_pixels
LOW = 1_003_520  # a server started with the client's default max_pixels
# ScreenSpot mixes phone, desktop and web screenshots: the client's model sizes under max_pixels BIG, the
# smallest first (the probe's verdict reaches down to the first request's image; see the last test)
SCREENS = [Geometry.for_screenshot(Size(*s), max_pixels=BIG).model
           for s in [(1280, 720), (1080, 2400), (1920, 1080), (2560, 1440), (750, 1334), (3840, 2160)]]


def prompt(*sizes: Size, text: str = "click the button") -> Prompt:
    return Prompt("You are a GUI agent.", text, tuple(Image.new("RGB", (s.width, s.height), "white") for s in sizes))


def model(server, max_pixels: int = BIG) -> OpenAIModel:
    return OpenAIModel(server.base_url, "qwen", max_tokens=4, client_limits=(3136, max_pixels), retry_wait=0.01)


def test_token_ids_check_every_request_for_no_extra_request() -> None:
    with QwenLikeServer(["ok"], token_ids=True) as server:
        client = model(server)
        for size in SCREENS:
            assert client.generate(prompt(size)).image_tokens == tokens_for(size)
        bodies = list(server.requests)
    assert len(bodies) == len(SCREENS) and all(b["return_token_ids"] is True for b in bodies)
    assert client.handshake["method"] == "token_ids" and client.handshake["status"] == "match"
    assert client.handshake["extra_requests"] == 0 and "refused_requests" not in client.handshake


def test_token_ids_catch_a_larger_image_long_after_first_contact() -> None:
    """The server keeps images up to 1,003,520 pixels: the first screens pass, the 1932x1092 one stops it."""
    small, large = Size(952, 532), Size(1932, 1092)
    with QwenLikeServer(["ok"], token_ids=True, max_pixels=LOW) as server:
        client = model(server)
        for _ in range(3):
            assert client.generate(prompt(small)).image_tokens == tokens_for(small)
        with pytest.raises(ResolutionMismatch) as exc:
            client.generate(prompt(large))
        requests, refused = len(server.requests), len(server.refused)
    message = " ".join(str(exc.value).split())
    assert "the 1932x1092 screenshot this client sent" in message and "reached the model as 1316x728" in message
    assert "1222 image tokens instead of 2691" in message and "It refused per-request limits" in message
    assert requests == 4 and refused == 1  # the four real requests; the retry with limits was refused
    assert client.handshake["status"] == "mismatch" and client.handshake["extra_requests"] == 0
    assert client.handshake["refused_requests"] == 1


def test_token_ids_with_per_request_limits_fix_it_for_one_request_more() -> None:
    small, large = Size(952, 532), Size(1932, 1092)
    with QwenLikeServer(["ok"], token_ids=True, max_pixels=LOW, per_request=True) as server:
        client = model(server)
        client.generate(prompt(small))
        assert client.generate(prompt(large)).image_tokens == tokens_for(large)
        assert client.generate(prompt(Size(1092, 2408))).image_tokens == tokens_for(Size(1092, 2408))
        bodies = list(server.requests)
    assert client.handshake["status"] == "per_request_limits" and client.handshake["extra_requests"] == 1
    assert client.handshake["image_tokens"] == 1222 and client.handshake["expected_tokens"] == 2691
    assert len(bodies) == 4 and "mm_processor_kwargs" not in bodies[1]
    assert bodies[2]["mm_processor_kwargs"] == bodies[3]["mm_processor_kwargs"] == {"min_pixels": 3136, "max_pixels": BIG}


def test_usage_only_one_probe_covers_every_later_size() -> None:
    """No token ids: one probe on first contact; the mixed ScreenSpot sizes after it cost nothing."""
    with QwenLikeServer(["ok"]) as server:
        client = model(server)
        first = client.generate(prompt(SCREENS[0]))
        for size in SCREENS:
            assert client.generate(prompt(size)).image_tokens == tokens_for(size)
        bodies = list(server.requests)
    assert first.image_tokens == tokens_for(SCREENS[0])
    assert client.handshake["method"] == "probe" and client.handshake["status"] == "match"
    assert client.handshake["extra_requests"] == 1 and len(bodies) == len(SCREENS) + 2
    probe = bodies[1]
    assert probe["max_tokens"] == 1 and client.handshake["probe"][0] * client.handshake["probe"][1] == BIG
    texts = [[c for c in m["content"] if c["type"] == "text"] for m in (probe["messages"][1], bodies[0]["messages"][1])]
    assert texts[0] == texts[1]  # the same text, only the image swapped


@pytest.mark.parametrize("server_max", [LOW, 4_000_000, BIG - 784 * 200])
def test_usage_only_a_server_that_resizes_only_larger_images_is_caught_at_first_contact(server_max: int) -> None:
    """The first screenshot is small enough for the server; the larger ones it would shrink come later, but
    the probe already asked about the largest size this client can send."""
    with QwenLikeServer(["ok"], max_pixels=server_max) as server:
        client = model(server)
        with pytest.raises(ResolutionMismatch) as exc:
            client.generate(prompt(Size(952, 532)))
        requests, refused = len(server.requests), len(server.refused)
    message = " ".join(str(exc.value).split())
    assert "the largest this client sends under its --max-pixels" in message and "It refused per-request limits" in message
    assert requests == 2 and refused == 1  # the real request and the probe; the probe again with limits refused
    assert client.handshake["extra_requests"] == 1 and client.handshake["status"] == "mismatch"


def test_usage_only_a_resized_first_image_is_named() -> None:
    with QwenLikeServer(["ok"], max_pixels=LOW) as server, pytest.raises(ResolutionMismatch) as exc:
        model(server).generate(prompt(Size(1932, 1092)))
    message = " ".join(str(exc.value).split())
    assert "the 1932x1092 screenshot this client sent" in message and "reached the model as 1316x728" in message
    assert "1222 image tokens instead of 2691" in message


def test_usage_only_with_per_request_limits() -> None:
    with QwenLikeServer(["ok"], max_pixels=LOW, per_request=True) as server:
        client = model(server)
        assert client.generate(prompt(Size(952, 532))).image_tokens == tokens_for(Size(952, 532))
        assert client.generate(prompt(Size(1932, 1092))).image_tokens == tokens_for(Size(1932, 1092))
        bodies = list(server.requests)
    assert client.handshake["status"] == "per_request_limits" and client.handshake["extra_requests"] == 2
    assert len(bodies) == 4 and bodies[3]["mm_processor_kwargs"]["max_pixels"] == BIG  # probe, probe with limits


def test_an_image_already_at_the_largest_size_is_checked_against_the_text_alone() -> None:
    largest = Size(1120, 896)  # 1,003,520 pixels: the client's largest area, no larger probe exists
    with QwenLikeServer(["ok"]) as server:
        client = model(server, max_pixels=LOW)
        assert client.generate(prompt(largest)).image_tokens == tokens_for(largest)
        probe = server.requests[1]
    assert client.handshake["method"] == "text_only" and client.handshake["extra_requests"] == 1
    assert all(c["type"] == "text" for m in probe["messages"] if isinstance(m["content"], list) for c in m["content"])


def test_a_strict_server_refuses_return_token_ids_once() -> None:
    with QwenLikeServer(["ok"], strict=True) as server:
        client = model(server)
        for size in SCREENS:
            assert client.generate(prompt(size)).image_tokens == tokens_for(size)
        bodies, refused = list(server.requests), list(server.refused)
    assert len(refused) == 1 and refused[0]["return_token_ids"] is True
    assert not any("return_token_ids" in b for b in bodies)  # remembered
    assert client.handshake["refused_requests"] == 1 and client.handshake["extra_requests"] == 1
    assert client.handshake["method"] == "probe" and client.handshake["status"] == "match"


def test_concurrent_first_contact_costs_one_probe() -> None:
    with QwenLikeServer(["ok"], strict=True, latency=0.05) as server:
        client = model(server)
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                assert client.generate(prompt(SCREENS[0], text=f"task {i}")).image_tokens == tokens_for(SCREENS[0])
            except BaseException as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        refused = len(server.refused)
    assert not errors, errors
    assert refused == 1 and client.handshake["extra_requests"] == 1 and client.handshake["status"] == "match"


def test_images_outside_the_probed_range_are_warned_about_once(caplog) -> None:
    """Smaller than the first request's images: the probe's verdict does not reach down there."""
    with QwenLikeServer(["ok"]) as server, caplog.at_level("WARNING", logger="agent.models.openai"):
        client = model(server)
        client.generate(prompt(Size(1288, 728)))
        for _ in range(2):
            assert client.generate(prompt(Size(56, 56))).image_tokens is None  # not vouched for
        requests = len(server.requests)
    assert requests == 4 and client.handshake["extra_requests"] == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "not checked" in warnings[0]


def test_a_probe_longer_than_the_servers_context_falls_back_to_the_text_alone() -> None:
    """The largest size under 12,845,056 pixels is 16,384 image tokens, more than this server's context."""
    with QwenLikeServer(["ok"], context=8192) as server:
        client = model(server)
        assert client.generate(prompt(SCREENS[0])).image_tokens == tokens_for(SCREENS[0])
        refused, probe = list(server.refused), server.requests[1]
    assert len(refused) == 1 and client.handshake["refused_requests"] == 1
    assert client.handshake["method"] == "text_only" and client.handshake["extra_requests"] == 1
    assert all(c["type"] == "text" for m in probe["messages"] if isinstance(m["content"], list) for c in m["content"])


def test_concurrent_requests_resized_before_the_limits_were_known_are_each_sent_again() -> None:
    """Requests already on their way without limits when another one found the resize: each is sent again
    with the limits (not taken for a server that ignores them), and every answer is on the client's grid."""
    large = Size(1932, 1092)
    with QwenLikeServer(["ok"], token_ids=True, max_pixels=LOW, per_request=True, latency=0.05) as server:
        client = model(server)
        client.generate(prompt(Size(952, 532)))  # first contact: the server's kind is known
        results: list[object] = []
        threads = [threading.Thread(target=lambda i=i: results.append(_safe(client, prompt(large, text=f"task {i}"))))
                   for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        limited = sum("mm_processor_kwargs" in body for body in server.requests)
    assert results == [tokens_for(large)] * 4, results
    assert client.handshake["status"] == "per_request_limits"
    assert 1 <= client.handshake["extra_requests"] <= 4 and limited == 4  # each request once with the limits


def _safe(client: OpenAIModel, p: Prompt) -> object:
    try:
        return client.generate(p).image_tokens
    except Exception as exc:  # noqa: BLE001  (compared below)
        return exc


def test_token_ids_from_before_the_image_expansion_are_not_taken_for_a_resize() -> None:
    """A server whose ids keep one placeholder per image (fewer ids than prompt tokens): usage decides."""
    with QwenLikeServer(["ok"], token_ids=True, expanded=False) as server:
        client = model(server)
        for size in SCREENS:
            assert client.generate(prompt(size)).image_tokens == tokens_for(size)
        later = server.requests[2:]
    assert client.handshake["method"] == "probe" and client.handshake["status"] == "match"
    assert client.handshake["extra_requests"] == 1 and not any("return_token_ids" in body for body in later)


def test_a_mismatch_on_an_original_file_names_the_file_and_the_model_size() -> None:
    """--resize auto sends a 1920x1080 file for the server to resize to 1932x1092; a server whose limit is lower
    resizes it to 1316x728: the error names all three, so nobody wonders where 1932x1092 came from."""
    import io

    from agent.server_resize import ServerResized

    buffer = io.BytesIO()
    Image.new("RGB", (1920, 1080), "white").save(buffer, "PNG")
    shot = ServerResized(buffer.getvalue(), Size(1920, 1080), Size(1932, 1092), "png")
    with QwenLikeServer(["ok"], token_ids=True, max_pixels=LOW) as server:
        with pytest.raises(ResolutionMismatch) as exc:
            model(server).generate(Prompt("You are a GUI agent.", "click the button", (shot,)))
    message = " ".join(str(exc.value).split())
    assert "reached the model as 1316x728" in message and "the 1932x1092 screenshot" in message, message
    assert "original file" in message and "1920x1080 -> 1932x1092" in message, message
