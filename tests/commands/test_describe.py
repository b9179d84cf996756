"""describe: images, videos (PyAV, dynamic fps), recorded sessions; scripted server and tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from agent import cli
from agent.commands.describe import FRAME_MAX_PIXELS, frame_count, frame_pixels, read_video
from agent.geometry import Geometry, Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.models.testing import ScriptedServer
from agent.trajectory import TrajectoryWriter
from environments.canvas import CanvasEnvironment
from tests.commands.conftest import make_screen, make_video
from tests.commands.test_detect_ground import images_sent


def server_args(server: ScriptedServer) -> list[str]:
    return ["--base-url", server.base_url, "--model", "qwen"]


def user_text(body: dict) -> str:
    user = next(m for m in body["messages"] if m["role"] == "user")
    return " ".join(p["text"] for p in user["content"] if p["type"] == "text")


def test_describe_one_and_several_images(tmp_path, capsys):
    a = make_screen(tmp_path / "a.png", (1920, 1080), {"x": (10, 10, 100, 100)})
    b = make_screen(tmp_path / "b.png", (390, 844), {})
    with ScriptedServer(["A settings window.", "Two screens."]) as server:
        assert cli.main(["describe", str(a), *server_args(server)]) == 0
        assert capsys.readouterr().out.strip() == "A settings window."
        assert cli.main(["describe", str(a), str(b), "--prompt", "Compare them.", "--json", *server_args(server)]) == 0
        result = json.loads(capsys.readouterr().out)
        one, two = server.requests
    assert result["text"] == "Two screens." and result["kind"] == "images"
    assert [i.size for i in images_sent(one)] == [(1316, 728)]
    assert [i.size for i in images_sent(two)] == [(1316, 728), (392, 840)]
    assert user_text(one) == "Describe this image in detail." and user_text(two) == "Compare them."


@pytest.mark.parametrize(
    ("duration", "total", "fps", "max_frames", "expected"),
    [(3.0, 30, 2.0, 32, 6), (1.0, 10, 2.0, 32, 4), (600.0, 18000, 2.0, 32, 32), (3.0, 3, 2.0, 32, 2),
     (1 / 30, 1, 2.0, 32, 1), (10.0, 300, 0.5, 32, 4), (7.4, 222, 1.0, 32, 6), (60.0, 1800, 2.0, 33, 32)],
)
def test_frame_count_is_dynamic_and_paired(duration, total, fps, max_frames, expected):
    assert frame_count(duration, total, fps, max_frames) == expected


def test_frame_pixels_share_the_budget():
    assert frame_pixels(4, 10**9, 4096) == FRAME_MAX_PIXELS
    assert frame_pixels(64, 10**9, 4096) == 4096 * 784 * 2 // 64
    assert frame_pixels(1000, 10**9, 4096) == 128 * 784  # floor
    assert frame_pixels(4, 50_000, 4096) == 50_000  # the user's cap wins


def test_read_video_samples_evenly_at_the_asked_rate(tmp_path):
    video = read_video(make_video(tmp_path / "clip.mp4", seconds=3.0, rate=10), fps=2.0)
    assert len(video.frames) == 6 and video.duration == pytest.approx(3.0, abs=0.01)
    assert video.fps == pytest.approx(2.0, abs=0.01)
    xs = [_square_x(frame) for frame in video.frames]  # the square moves right: frames are in order
    assert xs == sorted(xs) and xs[-1] - xs[0] > 150


def _square_x(frame: Image.Image) -> int:
    row = np.asarray(frame.convert("RGB"))[120]
    return int(np.flatnonzero((row[:, 0] > 150) & (row[:, 1] < 100))[0])


def test_describe_video_through_a_server_sends_frames_with_their_timing(tmp_path, capsys):
    path = make_video(tmp_path / "clip.mp4", seconds=3.0, rate=10)
    with ScriptedServer(["A red square moves right."]) as server:
        assert cli.main(["describe", str(path), "--fps", "2", "--json", *server_args(server)]) == 0
        result = json.loads(capsys.readouterr().out)
        body = server.requests[0]
    assert result["kind"] == "video" and result["frames"] == 6 and result["fps"] == pytest.approx(2.0, abs=0.01)
    sent = images_sent(body)
    assert len(sent) == 6 and len({i.size for i in sent}) == 1
    w, h = sent[0].size
    assert w % 28 == 0 and h % 28 == 0 and w * h <= FRAME_MAX_PIXELS
    assert "3.0 seconds" in user_text(body) and "2 frames per second" in user_text(body)


def test_describe_video_with_the_tiny_model_uses_video_input(tmp_path, capsys, tiny_model_dir):
    path = make_video(tmp_path / "clip.mp4", seconds=2.0, rate=8, size=(224, 168))
    assert cli.main(["describe", str(path), "--json", "--model", str(tiny_model_dir), "--max-new-tokens", "4"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 4
    h, w = 168, 224  # already multiples of 28 and within the frame budget: kept as they are
    assert result["usage"]["image_tokens"] == (4 // 2) * (h // 28) * (w // 28)


def test_describe_recorded_session(tmp_path, capsys):
    env = CanvasEnvironment(Size(1280, 720))
    geometry = Geometry.for_screenshot(Size(1280, 720), max_pixels=FRAME_MAX_PIXELS)  # video frame budget
    click = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [100, 100]}}\n</tool_call>'
    done = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'
    Agent(ReplayModel([click, click, done]), env, AgentConfig(), TrajectoryWriter(tmp_path / "run")).run("open the menu")
    with ScriptedServer(["The agent clicked twice and stopped."]) as server:
        assert cli.main(["describe", str(tmp_path / "run"), "--json", *server_args(server)]) == 0
        result = json.loads(capsys.readouterr().out)
        body = server.requests[0]
    assert result["kind"] == "session" and result["frames"] == 3
    assert len(images_sent(body)) == 3 and images_sent(body)[0].size == (geometry.model.width, geometry.model.height)
    assert '"open the menu"' in user_text(body)


def test_describe_image_with_the_tiny_model(tmp_path, capsys, tiny_model_dir):
    path = make_screen(tmp_path / "a.png", (1280, 720), {})
    assert cli.main(["describe", str(path), "--json", "--model", str(tiny_model_dir), "--max-new-tokens", "6"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["usage"]["image_tokens"] == 46 * 26 and 1 <= result["usage"]["completion_tokens"] <= 6


def test_describe_usage_errors_exit_2(tmp_path, tiny_model_dir):
    image = make_screen(tmp_path / "a.png", (100, 100), {})
    video = make_video(tmp_path / "v.mp4", seconds=1.0)
    server = ["--base-url", "http://127.0.0.1:9/v1", "--model", "q"]
    assert cli.main(["describe", str(tmp_path / "missing.png"), *server]) == 2
    assert cli.main(["describe", str(image), str(video), *server]) == 2  # a mix
    (tmp_path / "notrun").mkdir()
    assert cli.main(["describe", str(tmp_path / "notrun"), *server]) == 2
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    assert cli.main(["describe", str(broken), *server]) == 2
    assert cli.main(["describe", str(image), "--fps", "0", *server]) == 2


def test_missing_local_model_is_a_usage_error(tmp_path, capsys):
    image = make_screen(tmp_path / "a.png", (100, 100), {})
    assert cli.main(["describe", str(image), "--model", str(tmp_path / "no" / "such" / "model")]) == 2
    assert "neither a local directory" in capsys.readouterr().err.replace("\n", " ")
