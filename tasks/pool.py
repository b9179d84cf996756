"""Where units run: worker threads on this machine, or Ray actors on a cluster (`tasks.ray_pool`).

Each worker owns what it runs episodes with (a browser, a display, a device): the suite's
``make_worker(index)`` is called by the worker itself, in the thread (or Ray actor) that will use it —
Playwright's sync API and most device clients belong to the thread that made them. A worker is a
callable ``(unit, directory) -> result dict`` with an optional ``close()``.

Timeouts: Python cannot stop a thread, so a unit past ``episode_timeout`` is given up: it is reported as a
timeout at once, its worker is abandoned (it closes its environment when the stuck call returns, bounded
by the model's and the environment's own timeouts) and a fresh worker with a new environment takes its
place. A Ray actor is killed instead.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from agent.errors import ConfigError, error_record

Worker = Callable[[Any, Path | None], dict[str, Any]]
MakeWorker = Callable[[int], Worker]


class Pool(Protocol):
    """Runs units somewhere and hands back records as they finish."""

    def submit(self, unit: Any, directory: Path | None) -> None: ...

    def results(self, timeout: float) -> list[tuple[Any, dict[str, Any]]]:
        """Records finished since the last call (waits up to ``timeout`` s for the first)."""
        ...

    def free(self) -> int:
        """How many more units can be submitted right now."""
        ...

    def expire(self, episode_timeout: float | None) -> list[tuple[Any, dict[str, Any]]]:
        """Timeout records of units running longer than ``episode_timeout``; their workers are replaced."""
        ...

    def close(self) -> None: ...


def run_one(worker: Worker, unit: Any, directory: Path | None) -> dict[str, Any]:
    """The record of one unit: the worker's result plus the runner's fields; a failure becomes an
    "error" record (ConfigError and KeyboardInterrupt are raised: they stop the whole run)."""
    started = time.perf_counter()
    try:
        result = dict(worker(unit, directory))
    except (ConfigError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - one broken episode must not end the whole evaluation
        result = {"outcome": "error", "success": False, "reason": f"{type(exc).__name__}: {exc}", **error_record(exc)}
    result.setdefault("success", result.get("outcome") == "success")
    return finish_record(unit, result, directory, time.perf_counter() - started)


def finish_record(unit: Any, result: dict[str, Any], directory: Path | None, seconds: float) -> dict[str, Any]:
    return {
        "task": unit.task, "episode": unit.episode, "seed": unit.seed, **result,
        "dir": directory.name if directory is not None and directory.exists() else None,
        "seconds": round(seconds, 3), "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def timeout_record(unit: Any, directory: Path | None, seconds: float) -> dict[str, Any]:
    reason = (f"timeout: the episode ran longer than --episode-timeout {seconds:g} s and was given up "
              "(rerun it with --retry-errors)")
    return finish_record(unit, {"outcome": "error", "success": False, "timeout": True, "reason": reason},
                         directory, seconds)


@dataclass
class _Slot:
    """One worker thread and what it is running."""

    index: int
    inbox: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    running: tuple[Any, Path | None, float] | None = None
    abandoned: bool = False
    thread: threading.Thread | None = None


class ThreadPool:
    """``workers`` threads, each making its own worker on first use and closing it at the end."""

    def __init__(self, make_worker: MakeWorker, workers: int) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.make_worker = make_worker
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._slots = [self._start(_Slot(i)) for i in range(workers)]

    def _start(self, slot: _Slot) -> _Slot:
        slot.thread = threading.Thread(target=self._loop, args=(slot,), name=f"worker-{slot.index}", daemon=True)
        slot.thread.start()
        return slot

    def _loop(self, slot: _Slot) -> None:
        worker = None
        try:
            while (job := slot.inbox.get()) is not None:
                unit, directory = job
                started = time.perf_counter()
                try:
                    if worker is None:
                        worker = self.make_worker(slot.index)
                    record = run_one(worker, unit, directory)
                except (ConfigError, KeyboardInterrupt) as exc:  # the runner's thread raises it: the run stops
                    self._done.put((slot, unit, exc))
                    return
                except Exception as exc:  # noqa: BLE001 - the environment did not start: this unit is an error
                    reason = f"the worker's environment did not start: {type(exc).__name__}: {exc}"
                    record = finish_record(unit, {"outcome": "error", "success": False, "reason": reason,
                                                  **error_record(exc)}, directory, time.perf_counter() - started)
                self._done.put((slot, unit, record))
                if slot.abandoned:
                    return
        finally:
            if worker is not None and hasattr(worker, "close"):
                with contextlib.suppress(Exception):  # closing a broken environment may fail too
                    worker.close()

    def free(self) -> int:
        return sum(slot.running is None for slot in self._slots)

    def submit(self, unit: Any, directory: Path | None) -> None:
        slot = next(s for s in self._slots if s.running is None)
        slot.running = (unit, directory, time.monotonic())
        slot.inbox.put((unit, directory))

    def results(self, timeout: float) -> list[tuple[Any, dict[str, Any]]]:
        out = []
        try:
            item = self._done.get(timeout=timeout)
            while True:
                slot, unit, record = item
                if isinstance(record, BaseException):
                    raise record
                if not slot.abandoned:  # an abandoned unit was already reported as a timeout
                    slot.running = None
                    out.append((unit, record))
                item = self._done.get_nowait()
        except queue.Empty:
            pass
        return out

    def expire(self, episode_timeout: float | None) -> list[tuple[Any, dict[str, Any]]]:
        if not episode_timeout:
            return []
        out = []
        now = time.monotonic()
        for i, slot in enumerate(self._slots):
            if slot.running is not None and now - slot.running[2] > episode_timeout:
                unit, directory, _ = slot.running
                slot.abandoned = True
                slot.inbox.put(None)  # it leaves after the stuck unit returns, closing its environment
                out.append((unit, timeout_record(unit, directory, episode_timeout)))
                self._slots[i] = self._start(_Slot(slot.index))
        return out

    def close(self, wait: bool = True) -> None:
        for slot in self._slots:
            slot.inbox.put(None)
        if wait:
            for slot in self._slots:
                if slot.thread is not None and not slot.abandoned:
                    slot.thread.join()


class InlinePool:
    """Runs each unit at once in the calling thread: for callers that pass one ``run_one`` holding objects
    made in their own thread (a Playwright page belongs to its thread). No timeouts: nothing can cut a
    unit short from the thread that runs it."""

    def __init__(self, worker: Worker) -> None:
        self.worker, self._done = worker, []

    def free(self) -> int:
        return 0 if self._done else 1

    def submit(self, unit: Any, directory: Path | None) -> None:
        self._done.append((unit, run_one(self.worker, unit, directory)))

    def results(self, timeout: float) -> list[tuple[Any, dict[str, Any]]]:
        done, self._done = self._done, []
        return done

    def expire(self, episode_timeout: float | None) -> list[tuple[Any, dict[str, Any]]]:
        return []

    def close(self, wait: bool = True) -> None:
        pass
