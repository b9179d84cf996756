"""Bugs the probe against vLLM found in the single-shot commands, checked over real HTTP (ScriptedServer).

Brackets in messages (``[x, y]``, ``[{"bbox_2d": ...}]``) must reach the terminal as written, not be eaten
as rich markup; box-mode grounding must re-ask for a box, not for a click coordinate.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from rich.console import Console

from agent.cli import main
from agent.loop import EpisodeResult
from agent.models.testing import ScriptedServer

BOX_HINT = '[{"bbox_2d": [x1, y1, x2, y2], "label": "..."}]'


def shot(tmp_path: Path) -> Path:
    Image.new("RGB", (640, 480), "white").save(tmp_path / "shot.png")
    return tmp_path / "shot.png"


def test_box_mode_ground_re_asks_for_a_box_and_prints_it_intact(tmp_path: Path, capsys) -> None:
    with ScriptedServer(["I cannot see it", "still nothing"]) as server:
        code = main(["ground", str(shot(tmp_path)), "the OK button", "--base-url", server.base_url, "--model", "qwen",
                     "--out", str(tmp_path / "where.png")])
    assert code == 1
    retry = next(c["text"] for c in server.requests[1]["messages"][-1]["content"] if c["type"] == "text")
    assert BOX_HINT in retry and "coordinate is [x, y]" not in retry
    err = " ".join(capsys.readouterr().err.split())
    assert BOX_HINT in err  # not swallowed as markup


def test_click_mode_and_detect_print_brackets_intact(tmp_path: Path, capsys) -> None:
    with ScriptedServer(["no idea"]) as server:
        code = main(["ground", str(shot(tmp_path)), "the OK button", "--mode", "click", "--base-url", server.base_url,
                     "--model", "qwen", "--out", str(tmp_path / "where.png")])
        assert code == 1
        assert "coordinate is [x, y]" in " ".join(capsys.readouterr().err.split())
        code = main(["detect", str(shot(tmp_path)), "--base-url", server.base_url, "--model", "qwen",
                     "--out", str(tmp_path / "boxes.png")])
    assert code == 1
    out, err = capsys.readouterr()
    assert BOX_HINT in " ".join(err.split()) and json.loads(out)["error"].endswith(BOX_HINT)


def test_episode_line_keeps_brackets(tmp_path: Path) -> None:
    from agent.report import print_episode
    from agent.trajectory import TrajectoryWriter

    writer = TrajectoryWriter(tmp_path / "run")
    writer.start({"instruction": "x"})
    result = EpisodeResult("error", "the model gave no usable answer: answer with [x, y] or [bold]", 1)
    writer.finish(result.to_dict())
    console = Console(record=True, width=200)
    print_episode(tmp_path / "run", result, console)
    assert "answer with [x, y] or [bold]" in console.export_text()


def test_a_server_timeout_is_a_message_not_a_traceback(tmp_path: Path, capsys) -> None:
    with ScriptedServer(["[]"], latency=1.0) as server:
        for command in (["ground", str(shot(tmp_path)), "the OK button"], ["detect", str(shot(tmp_path))],
                        ["describe", str(shot(tmp_path))]):
            code = main([*command, "--base-url", server.base_url, "--model", "qwen", "--timeout", "0.2"])
            err = " ".join(capsys.readouterr().err.split())
            assert code == 3, (command, err)  # infrastructure: the server, not the user or the model
            assert "did not answer within 0.2" in err and "raise --timeout" in err
