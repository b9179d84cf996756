"""Run units as Ray actors: ``gui-agent eval … --ray [ADDRESS]`` when one machine is not enough.

Each worker is one Ray actor that makes its own worker — browser, display or device — on the node Ray
places it on (the suite's ``make_worker`` is shipped to it with cloudpickle; models travel as a
`agent.models.recipe.ModelRecipe` and are built there). Records come back to the driver, which appends
them to the same ``results.jsonl`` as a local run: resume works across local and Ray runs.
Trajectory directories are written by the actors at the driver's ``--out`` path: on a cluster that path
must be a filesystem every node shares (NFS), or the trajectories stay on the nodes that made them.

A unit past ``--episode-timeout`` is given up and its actor killed (with its browser); a new actor takes
its place. An actor that dies (its node went away, the process crashed) makes its unit an "error" record.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from agent.errors import ConfigError, error_record
from tasks.pool import MakeWorker, finish_record, run_one, timeout_record

LOCAL_OBJECT_STORE = 100 * 1024 * 1024  # bytes; records and units are small


class _Actor:
    """One worker on a Ray node; made lazily so an environment that cannot start is an error record."""

    def __init__(self, make_worker: MakeWorker, index: int) -> None:
        self.make_worker, self.index, self.worker = make_worker, index, None

    def ready(self) -> bool:
        return True

    def run(self, unit: Any, directory: str | None) -> dict[str, Any]:
        path = Path(directory) if directory is not None else None
        started = time.perf_counter()
        if self.worker is None:
            try:
                self.worker = self.make_worker(self.index)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded; the next unit tries again
                reason = f"the worker's environment did not start: {type(exc).__name__}: {exc}"
                return finish_record(unit, {"outcome": "error", "success": False, "reason": reason,
                                            **error_record(exc)}, path,
                                     time.perf_counter() - started)
        record = run_one(self.worker, unit, path)
        return record | {"node": os.uname().nodename}

    def close(self) -> None:
        if self.worker is not None and hasattr(self.worker, "close"):
            self.worker.close()
            self.worker = None


def _ray(address: str | None):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray would report usage over the network otherwise
    if address in (None, "", "local") or address.split("://")[-1].startswith(("127.", "localhost")):
        # a one-machine instance: Ray's own processes talk over loopback, not the machine's network address
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs the `ray` package: pip install 'qwen-gui-agent[ray]' (or `pip install ray`)") from None
    return ray


class RayPool:
    """``workers`` Ray actors of ``cpus`` CPUs each on the cluster at ``address`` ("local": start one here)."""

    def __init__(self, make_worker: MakeWorker, workers: int, address: str = "local", *, cpus: float = 1.0) -> None:
        ray = self.ray = _ray(address)
        self.address = address
        self._started = False
        if not ray.is_initialized():
            try:
                if address in (None, "", "local"):
                    ray.init(num_cpus=max(os.cpu_count() or 1, round(workers * cpus)), include_dashboard=False,
                             object_store_memory=LOCAL_OBJECT_STORE, log_to_driver=False)
                    self._started = True
                else:
                    ray.init(address=address, log_to_driver=False)
            except ConnectionError as exc:
                raise ConfigError(f"cannot connect to the Ray cluster at {address}: {exc}. Start one with "
                                  "`ray start --head`, pass its address (host:6379 or ray://host:10001), or use "
                                  "--ray alone for a local instance.") from None
        self._remote = ray.remote(num_cpus=cpus, max_restarts=0)(_Actor)
        self.make_worker = make_worker
        self._actors: list[Any] = [None] * workers
        self._starting: dict[Any, int] = {}  # ObjectRef of an actor's ready() -> slot
        self._running: dict[Any, tuple[int, Any, Path | None, float]] = {}  # ObjectRef -> (slot, unit, dir, start)
        for slot in range(workers):
            self._start(slot)

    def _start(self, slot: int) -> None:
        """A new actor in ``slot``; it takes units once it is up (starting a process is not an episode's time)."""
        self._actors[slot] = self._remote.remote(self.make_worker, slot)
        self._starting[self._actors[slot].ready.remote()] = slot

    def _ready_slots(self) -> list[int]:
        starting = set(self._starting.values())
        busy = {slot for slot, *_ in self._running.values()}
        return [i for i in range(len(self._actors)) if i not in starting and i not in busy]

    def free(self) -> int:
        return len(self._ready_slots())

    def submit(self, unit: Any, directory: Path | None) -> None:
        slot = self._ready_slots()[0]
        ref = self._actors[slot].run.remote(unit, str(directory) if directory is not None else None)
        self._running[ref] = (slot, unit, directory, time.monotonic())

    def results(self, timeout: float) -> list[tuple[Any, dict[str, Any]]]:
        waiting = list(self._running) + list(self._starting)
        if not waiting:
            time.sleep(timeout)
            return []
        ready, _ = self.ray.wait(waiting, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self.ray.wait(waiting, num_returns=len(waiting), timeout=0)
        out = []
        for ref in ready:
            if ref in self._starting:  # up (or dead at birth: its first unit then reports it)
                del self._starting[ref]
                continue
            slot, unit, directory, started = self._running.pop(ref)
            try:
                record = self.ray.get(ref)
            except ConfigError:
                raise  # Ray re-raises the task's exception as a subclass of its own type
            except self.ray.exceptions.RayActorError as exc:  # the actor's process or node died
                reason = f"the Ray worker died: {str(exc).splitlines()[0]}"
                record = finish_record(unit, {"outcome": "error", "success": False, "reason": reason}, directory,
                                       time.monotonic() - started)
                self._replace(slot)
            out.append((unit, record))
        return out

    def expire(self, episode_timeout: float | None) -> list[tuple[Any, dict[str, Any]]]:
        if not episode_timeout:
            return []
        now, out = time.monotonic(), []
        for ref, (slot, unit, directory, started) in list(self._running.items()):
            if now - started > episode_timeout:
                del self._running[ref]
                self._replace(slot)
                out.append((unit, timeout_record(unit, directory, episode_timeout)))
        return out

    def _replace(self, slot: int) -> None:
        self.ray.kill(self._actors[slot], no_restart=True)
        self._start(slot)

    def close(self, wait: bool = True) -> None:
        if wait:
            for ref in [actor.close.remote() for actor in self._actors]:
                try:
                    self.ray.get(ref, timeout=60)
                except Exception:  # noqa: BLE001, S112 - a dead actor has nothing left to close
                    continue
        for actor in self._actors:
            self.ray.kill(actor, no_restart=True)
        self._actors = []
        if self._started:
            self.ray.shutdown()
