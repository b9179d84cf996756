"""tasks.results: whatever moment a writer of results.jsonl died at, the next append keeps the file valid."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from tasks.results import RESULTS, ResultsLog, repair_tail
from tasks.runner import plan, run_units

RECORDS = [{"task": "a", "episode": i, "outcome": "success", "text": "ü" * i} for i in range(3)]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_every_cut_inside_the_last_record_is_repaired(tmp_path: Path) -> None:
    """Cut the file at each byte of the last line (a kill mid-write), append, read: always valid, nothing lost
    that was complete, the cut record gone unless only its newline was missing."""
    lines = [json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in RECORDS]
    head, last = b"".join(lines[:-1]), lines[-1]
    for cut in range(len(last) + 1):
        out = tmp_path / str(cut)
        _write(out / RESULTS, head + last[:cut])
        with ResultsLog(out) as log:
            kept = len(log.records)
            log.append({"task": "a", "episode": 9, "outcome": "success"})
        text = (out / RESULTS).read_text("utf-8")
        records = [json.loads(line) for line in text.splitlines()]  # raises on any invalid line
        whole = cut >= len(last) - 1  # the record is complete, with or without its newline
        assert [r["episode"] for r in records] == [0, 1, *([2] if whole else []), 9], cut
        assert kept == len(records) - 1 and text.endswith("\n")


def test_repair_leaves_good_and_empty_files_alone(tmp_path: Path) -> None:
    good = b'{"a": 1}\n{"a": 2}\n'
    _write(tmp_path / "good.jsonl", good)
    _write(tmp_path / "empty.jsonl", b"")
    repair_tail(tmp_path / "good.jsonl")
    repair_tail(tmp_path / "empty.jsonl")
    repair_tail(tmp_path / "missing.jsonl")
    assert (tmp_path / "good.jsonl").read_bytes() == good and (tmp_path / "empty.jsonl").read_bytes() == b""
    assert not (tmp_path / "missing.jsonl").exists()


def test_a_fragment_with_no_line_before_it_and_a_non_object_tail_are_cut(tmp_path: Path) -> None:
    _write(tmp_path / "one.jsonl", b'{"task": "a", "epis')
    _write(tmp_path / "list.jsonl", b'{"a": 1}\n[1, 2]')  # valid JSON, but not a record
    repair_tail(tmp_path / "one.jsonl")
    repair_tail(tmp_path / "list.jsonl")
    assert (tmp_path / "one.jsonl").read_bytes() == b""
    assert (tmp_path / "list.jsonl").read_bytes() == b'{"a": 1}\n'


def test_a_long_torn_tail_spanning_read_chunks_is_cut(tmp_path: Path) -> None:
    record = json.dumps({"task": "a", "episode": 0, "blob": "x" * 200_000}).encode()
    _write(tmp_path / RESULTS, record + b"\n" + record[:150_000])
    with ResultsLog(tmp_path) as log:
        assert len(log.records) == 1
    assert (tmp_path / RESULTS).read_bytes() == record + b"\n"


def test_runner_keeps_a_finished_unit_whose_newline_was_not_written(tmp_path: Path) -> None:
    """Killed between the record and its newline: the unit is finished and must neither rerun nor vanish."""
    quiet = Console(file=io.StringIO())
    calls: list[str] = []

    def run_one(unit, directory):
        calls.append(unit.key)
        return {"outcome": "success"}

    run_units(plan(["a"], 2), run_one, tmp_path, console=quiet)
    results = tmp_path / RESULTS
    results.write_bytes(results.read_bytes().rstrip(b"\n"))
    records = run_units(plan(["a"], 3), run_one, tmp_path, console=quiet)
    assert calls == ["a#0", "a#1", "a#2"] and [r["episode"] for r in records] == [0, 1, 2]
    assert [json.loads(line)["episode"] for line in results.read_text().splitlines()] == [0, 1, 2]


@pytest.mark.parametrize("fsync_every", [0.0, 3600.0])
def test_every_append_is_flushed_at_once(tmp_path: Path, fsync_every: float) -> None:
    """A killed process loses nothing it appended: the line is in the file before append() returns."""
    log = ResultsLog(tmp_path, fsync_every=fsync_every)
    log.append(RECORDS[0])
    assert json.loads((tmp_path / RESULTS).read_text("utf-8")) == RECORDS[0]
    log.close()
