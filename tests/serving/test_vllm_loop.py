"""The whole pipeline through the real vLLM: the agent on the demo web app, ScreenSpot with 2 workers, bad URLs.

The tiny model is random, so its answers are constrained to valid tool calls by vLLM's structured outputs
(`--constrain-tool-calls`): what is tested is that real server answers parse, validate, map and execute.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from agent.cli import main
from agent.errors import ModelUnavailableError
from agent.models.openai import OpenAIModel
from agent.prompt import Prompt
from agent.trajectory import Trajectory
from tests.screenspot.conftest import make_v1
from tests.vllm_server import TINY_NAME


def test_agent_on_the_demo_app_through_vllm(vllm_server, tmp_path: Path) -> None:
    from environments.webapps import WebAppServer

    out = tmp_path / "run"
    with WebAppServer() as app:
        code = main(["run", "Sign in as alice and turn on email notifications", "--env", "browser",
                     "--url", app.url("demo/"), "--base-url", vllm_server.base_url, "--model", TINY_NAME,
                     "--constrain-tool-calls", "click,type", "--max-steps", "4", "--out", str(out)])
    trajectory = Trajectory.load(out)
    assert trajectory.result["outcome"] == "step_limit" and code == 1, trajectory.result  # no terminate allowed
    assert trajectory.run["model"]["handshake"]["status"] == "pending"  # written before the first request
    first = trajectory.steps[0]["handshake"]  # its outcome: in the step that made it, and in result.json
    assert first["status"] == "match" and first["method"] == "token_ids" and first["extra_requests"] == 0
    assert first["image_tokens"] == first["expected_tokens"] == trajectory.steps[0]["image_tokens"]
    assert all("handshake" not in step for step in trajectory.steps[1:])  # recorded when it changes, not again
    assert trajectory.result["handshake"] == first
    executed = [step for step in trajectory.steps if "action" in step]
    assert len(executed) == len(trajectory.steps) == 4  # every step's answer was used
    model_w, model_h = trajectory.steps[0]["geometry"]["model"]
    for step in executed:
        assert all(not a.get("error") for a in step["attempts"][-1:])
        assert step["result"]["info"].get("settle_ms") is not None or step["action"]["action"] == "terminate"
        for x, y in step["model_points"].values():
            assert 0 <= x < model_w and 0 <= y < model_h
        for x, y in step["screen_points"].values():
            assert 0 <= x < 1280 and 0 <= y < 720
    assert any(step["action"]["action"] == "left_click" for step in executed), [s["action"] for s in executed]


def test_eval_screenspot_with_two_workers(vllm_server, tmp_path: Path) -> None:
    targets = make_v1(tmp_path / "data")
    code = main(["eval", "screenspot", "--data", str(tmp_path / "data"), "--base-url", vllm_server.base_url,
                 "--model", TINY_NAME, "--workers", "2", "--constrain-tool-calls", "--out", str(tmp_path / "out")])
    assert code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["scored"] == len(targets) and not summary["errors"]
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert len(records) == len(targets)
    assert all(r["correctness"] in ("correct", "wrong") for r in records), records  # every answer had a point


def test_a_base_url_without_v1_says_so(vllm_server, tmp_path: Path, capsys) -> None:
    root = vllm_server.base_url.removesuffix("/v1")
    with pytest.raises(ModelUnavailableError) as exc:
        OpenAIModel(root, TINY_NAME).generate(Prompt("s", "hello"))
    assert f"try --base-url {root}/v1" in str(exc.value) and "404" in str(exc.value)
    Image.new("RGB", (640, 480), "white").save(tmp_path / "shot.png")
    code = main(["ground", str(tmp_path / "shot.png"), "the button", "--base-url", root, "--model", TINY_NAME,
                 "--out", str(tmp_path / "where.png")])
    assert code == 2
    assert f"--base-url {root}/v1" in capsys.readouterr().err.replace("\n", "")


def test_per_request_limits_when_the_server_would_enlarge_the_image(vllm_server) -> None:
    """The session server trusts per-request mm_processor_kwargs; its min_pixels (3,136) would enlarge a
    28x28 image to 56x56 (4 tokens between the markers of the ids it returns), so the handshake sends the
    request again with the client's limits and the model sees 28x28: one extra request, the only one."""
    model = OpenAIModel(vllm_server.base_url, TINY_NAME, max_tokens=2, client_limits=(784, 1_003_520))
    generation = model.generate(Prompt("s", "hello", (Image.new("RGB", (28, 28), "red"),)))
    assert generation.image_tokens == 1
    assert model.handshake["status"] == "per_request_limits" and model.handshake["image_tokens"] == 4
    assert model.handshake["extra_requests"] == 1  # the request again with limits
    assert model.generate(Prompt("s", "again", (Image.new("RGB", (28, 28), "blue"),))).image_tokens == 1
    assert model.handshake["extra_requests"] == 1


def test_single_shot_commands_report_the_image_tokens_vllm_used(vllm_server, tmp_path: Path, capsys) -> None:
    from agent.geometry import Geometry, Size

    Image.new("RGB", (640, 480), "white").save(tmp_path / "shot.png")
    expected = Geometry.for_screenshot(Size(640, 480)).image_tokens
    server = ["--base-url", vllm_server.base_url, "--model", TINY_NAME, "--max-new-tokens", "8"]
    for command in (["ground", str(tmp_path / "shot.png"), "the button", "--out", str(tmp_path / "g.png"), "--retries", "0"],
                    ["detect", str(tmp_path / "shot.png"), "--out", str(tmp_path / "d.png"), "--retries", "0"],
                    ["describe", str(tmp_path / "shot.png"), "--json"]):
        main([*command, *server])
        usage = json.loads(capsys.readouterr().out)["usage"]
        assert usage["image_tokens"] == expected == 391, (command, usage)
        assert usage["prompt_tokens"] > expected
