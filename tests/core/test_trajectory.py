"""Trajectory files: what is written when, and a reader that survives a crash mid-line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from agent.trajectory import Trajectory, TrajectoryWriter, read_jsonl


def test_write_read_round_trip(tmp_path: Path) -> None:
    writer = TrajectoryWriter(tmp_path / "run")
    writer.start({"instruction": "x"})
    name = writer.save_screenshot(1, Image.new("RGB", (40, 30), (1, 2, 3)))
    assert (tmp_path / "run" / name).is_file()  # on disk before the step line names it
    writer.append_step({"index": 1, "screenshot": name, "raw": "é"})
    # flushed per step: readable while the run is still going
    assert Trajectory.load(tmp_path / "run").steps == [{"index": 1, "screenshot": name, "raw": "é"}]
    writer.finish({"outcome": "success"})
    t = Trajectory.load(tmp_path / "run")
    assert t.run == {"instruction": "x"} and t.result == {"outcome": "success"} and not t.torn
    assert t.screenshot(t.steps[0]).size == (40, 30)
    assert not list((tmp_path / "run").glob(".*tmp"))  # no temp files left by the atomic writes


def test_torn_last_line_is_dropped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "steps.jsonl"
    path.write_text(json.dumps({"index": 1}) + "\n" + '{"index": 2, "raw": "trunc')
    records, torn = read_jsonl(path)
    assert records == [{"index": 1}] and torn


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "steps.jsonl"
    path.write_text('{"index": 1}\nnot json\n{"index": 3}\n')
    with pytest.raises(ValueError, match="steps.jsonl:2 is not valid JSON"):
        read_jsonl(path)


def test_refuses_to_overwrite_a_run(tmp_path: Path) -> None:
    writer = TrajectoryWriter(tmp_path)
    writer.start({})
    with pytest.raises(FileExistsError, match="already holds a recorded run"):
        TrajectoryWriter(tmp_path)


def test_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="has no run.json"):
        Trajectory.load(tmp_path)


def test_nothing_is_pickled(tmp_path: Path) -> None:
    writer = TrajectoryWriter(tmp_path)
    writer.start({"x": 1})
    with pytest.raises(TypeError, match="cannot record object"):
        writer.append_step({"thing": object()})
