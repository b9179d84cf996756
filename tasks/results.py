"""``OUT/results.jsonl``, the one record file every evaluation suite appends to and resumes from.

One implementation for all suites (the episode runner and ScreenSpot's concurrent sampler), because the
resume rule is only as good as the file it reads. A process killed mid-write leaves a last line without
its newline. Before anything is appended, that tail is repaired:

- a fragment (not a JSON object) is cut off — its unit never finished and runs again;
- a complete record that only lacks its newline (killed between the two) gets the newline — it is kept.

Ending the fragment with a newline instead would leave it as a corrupt middle line once the next record
is appended, and the resume after that would stop on it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from agent.errors import ServerFailing
from agent.trajectory import read_jsonl

RESULTS = "results.jsonl"


def repair_tail(path: Path) -> None:
    """Make ``path`` end with a complete line: terminate a whole last record, cut a torn one."""
    if not path.is_file():
        return
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if not size:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        start = _last_line_start(f, size)
        f.seek(start)
        tail = f.read()
        if _is_record(tail):
            f.write(b"\n")
        else:
            f.truncate(start)
        f.flush()
        os.fsync(f.fileno())


def _last_line_start(f: Any, size: int, chunk: int = 1 << 16) -> int:
    """Offset just after the last newline (0 when there is none), reading backwards in chunks."""
    end = size
    while end > 0:
        begin = max(0, end - chunk)
        f.seek(begin)
        block = f.read(end - begin)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return begin + newline + 1
        end = begin
    return 0


def _is_record(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data.decode("utf-8")), dict)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def load_results(out: str | Path) -> list[dict[str, Any]]:
    """The records of ``OUT/results.jsonl`` (a torn last line, from a killed run, is left out)."""
    records, _ = read_jsonl(Path(out) / RESULTS)
    return records


def finished(records: Iterable[dict[str, Any]], *, retry_errors: bool = False) -> dict[str, dict[str, Any]]:
    """The newest record per unit key; with ``retry_errors`` units whose newest outcome is "error" are left out."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        latest[f"{record['task']}#{record['episode']}"] = record
    if retry_errors:
        latest = {k: r for k, r in latest.items() if r.get("outcome") != "error"}
    return latest


class ResultsLog:
    """Appends records to ``OUT/results.jsonl``, one line each, after repairing a torn tail.

    Opening repairs the tail and reads what is there (``records``). Each `append` is flushed at once, so a
    killed process loses nothing it appended; ``fsync_every`` (seconds) bounds what a power loss can take
    (0: every line, for episodes that take seconds; ScreenSpot appends hundreds a second and syncs each second).
    """

    def __init__(self, out: str | Path, *, fsync_every: float = 0.0) -> None:
        self.path = Path(out) / RESULTS
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(self.path)
        self.records = load_results(self.path.parent)
        self.fsync_every = fsync_every
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held until close()
        self._synced = time.monotonic()

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line (one ``write`` call) and flush it."""
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()
        if time.monotonic() - self._synced >= self.fsync_every:
            os.fsync(self._file.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> ResultsLog:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class FailureStreak:
    """Stops an evaluation once ``limit`` units in a row failed on the model server (a hung or dead server
    would otherwise fail every remaining unit, one timeout at a time). The failed units are recorded as
    errors; ``resume`` tells the user how to rerun them."""

    def __init__(self, limit: int, resume: str) -> None:
        self.limit, self.resume = limit, resume
        self.count, self.last = 0, ""

    def add(self, record: dict[str, Any]) -> None:
        if record.get("outcome") == "error" and record.get("fault") == "server":  # by type, never by reason text
            self.count, self.last = self.count + 1, str(record.get("reason") or "")
        else:
            self.count = 0
        if self.limit and self.count >= self.limit:
            raise ServerFailing(
                f"stopped: the last {self.count} units failed on the model server (last: {self.last}). Finished "
                f"units are kept. Check the server, then {self.resume}."
            )
