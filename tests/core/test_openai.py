"""OpenAIModel against a real loopback HTTP server: payload shape, retries, clear errors."""

from __future__ import annotations

import base64
import io
import json
import socket

import pytest
from PIL import Image

from agent.errors import ModelUnavailableError, StepTimeout
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models.openai import OpenAIModel
from agent.models.testing import ScriptedServer
from agent.prompt import Prompt
from environments.canvas import CanvasEnvironment

DONE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


def test_loop_over_http_sends_the_model_size_image() -> None:
    with ScriptedServer([DONE], models=("qwen2.5-vl",)) as server:
        model = OpenAIModel(server.base_url, "qwen2.5-vl")
        result = Agent(model, CanvasEnvironment(Size(1920, 1080))).run("x")
    assert result.outcome == "success"
    body = server.requests[0]
    assert body["model"] == "qwen2.5-vl" and body["temperature"] == 0
    system, user = body["messages"]
    assert "The screen's resolution is 1316x728." in system["content"]
    url = user["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.size == (1316, 728)  # resized once, on the client, to the size named in the prompt


def test_prefill_continues_the_assistant_message() -> None:
    prefill = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": ['
    with ScriptedServer(["12, 34]}}\n</tool_call>"]) as server:
        text = OpenAIModel(server.base_url, "qwen").generate(Prompt("s", "u", prefill=prefill)).text
    assert text == "12, 34]}}\n</tool_call>"
    body = server.requests[0]
    assert body["messages"][-1] == {"role": "assistant", "content": prefill}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


def test_transient_server_errors_are_retried() -> None:
    with ScriptedServer([DONE], fail_first=2) as server:
        assert OpenAIModel(server.base_url, "qwen", retry_wait=0.01).generate(Prompt("s", "u")).text == DONE
    assert len(server.requests) == 3


def test_unknown_model_names_the_served_ones() -> None:
    with ScriptedServer([DONE], models=("served-a", "served-b")) as server, pytest.raises(ModelUnavailableError) as exc:
        OpenAIModel(server.base_url, "wrong").generate(Prompt("s", "u"))
    assert "does not know the model 'wrong'; it serves: served-a, served-b. Pass the served name with --model" in str(exc.value)


def test_unreachable_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(ModelUnavailableError, match="cannot reach the model server .*vllm serve"):
        OpenAIModel(f"http://127.0.0.1:{port}/v1", "q", max_retries=1, retry_wait=0.01).generate(Prompt("s", "u"))


def test_timeout_is_a_step_timeout() -> None:
    with ScriptedServer([DONE], latency=0.5) as server, pytest.raises(StepTimeout, match="did not answer within 0.1 s"):
        OpenAIModel(server.base_url, "qwen", timeout=0.1, max_retries=1, retry_wait=0.01).generate(Prompt("s", "u"))


def test_a_hung_server_costs_one_timeout_not_one_per_try() -> None:
    """--timeout bounds the request with its retries: 120 s x 4 tries was 8 minutes per step."""
    with ScriptedServer([DONE], latency=3) as server, pytest.raises(StepTimeout, match=r"within 0.5 s \(1 try\)"):
        OpenAIModel(server.base_url, "qwen", timeout=0.5, max_retries=3, retry_wait=0.01).generate(Prompt("s", "u"))
    assert len(server.requests) == 1


def test_loop_records_config_error_then_raises(tmp_path) -> None:
    from agent.trajectory import Trajectory, TrajectoryWriter

    with ScriptedServer([DONE], models=("a",)) as server, pytest.raises(ModelUnavailableError):
        Agent(OpenAIModel(server.base_url, "b"), CanvasEnvironment(), AgentConfig(), TrajectoryWriter(tmp_path)).run("x")
    assert json.loads((tmp_path / "result.json").read_text())["outcome"] == "error"
    assert Trajectory.load(tmp_path).result["reason"].startswith("ModelUnavailableError")


def test_the_handshake_outcome_is_in_the_first_step_and_in_result_json(tmp_path) -> None:
    """run.json is written before the first request (handshake "pending"); the verdict lands where a reader looks."""
    from agent.trajectory import Trajectory, TrajectoryWriter

    click = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 10]}}\n</tool_call>'
    with ScriptedServer([click, DONE]) as server:  # reports no prompt tokens: the handshake can only say so
        Agent(OpenAIModel(server.base_url, "qwen"), CanvasEnvironment(), AgentConfig(), TrajectoryWriter(tmp_path)).run("x")
    trajectory = Trajectory.load(tmp_path)
    assert trajectory.run["model"]["handshake"]["status"] == "pending"
    assert len(trajectory.steps) == 2 and trajectory.steps[0]["handshake"]["status"] == "no_usage"
    assert "handshake" not in trajectory.steps[1]  # unchanged since the step that recorded it
    assert trajectory.result["handshake"] == trajectory.steps[0]["handshake"]
