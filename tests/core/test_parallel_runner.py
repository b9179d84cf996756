"""The one runner every suite uses: several workers, each with its own state, timeouts, resume."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from agent.errors import ConfigError
from tasks.runner import load_results, plan, run_units, write_summary

QUIET = Console(file=io.StringIO())


class Env:
    """Stands for a browser or a device: made by one worker, used only from that worker's thread."""

    made: list[Env] = []

    def __init__(self, index: int) -> None:
        self.index, self.thread, self.closed, self.units = index, threading.get_ident(), False, []
        Env.made.append(self)

    def __call__(self, unit, directory: Path | None) -> dict:
        assert threading.get_ident() == self.thread, "a worker's environment is used from its own thread only"
        assert not self.closed
        self.units.append(unit.key)
        if directory is not None:
            directory.mkdir()
            (directory / "result.json").write_text("{}")
        time.sleep(0.05)
        return {"outcome": "success" if unit.seed % 2 == 0 else "failure", "worker": self.index}

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def _fresh():
    Env.made = []


def test_workers_each_own_an_environment_and_every_unit_is_recorded_once(tmp_path: Path) -> None:
    units = plan(["a", "b", "c"], 4)
    records = run_units(units, None, tmp_path, make_worker=Env, workers=3, console=QUIET)
    assert [r["task"] + str(r["episode"]) for r in records] == [u.task + str(u.episode) for u in units]
    assert len(Env.made) == 3 and {e.index for e in Env.made} == {0, 1, 2}
    assert all(e.closed for e in Env.made) and sum(len(e.units) for e in Env.made) == 12
    assert len({e.thread for e in Env.made}) == 3
    assert sorted(r["task"] + str(r["episode"]) for r in load_results(tmp_path)) == sorted(
        u.task + str(u.episode) for u in units)
    assert all((tmp_path / r["dir"] / "result.json").is_file() for r in records)
    assert sum(r["success"] for r in records) == 6


def test_an_episode_past_its_timeout_is_an_error_and_its_worker_is_replaced(tmp_path: Path) -> None:
    release = threading.Event()
    returned: list[str] = []  # stuck calls that came back after their worker was abandoned

    class Stuck(Env):
        def __call__(self, unit, directory):
            if unit.task == "hangs":
                release.wait(30)  # a browser call that does not come back (bounded, as real ones are)
                if release.is_set():
                    try:
                        return super().__call__(unit, directory)
                    finally:
                        returned.append(unit.key)
            return super().__call__(unit, directory)

    units = plan(["hangs", "fine"], 3)
    try:
        records = run_units(units, None, tmp_path, make_worker=Stuck, workers=2, episode_timeout=0.5, console=QUIET)
    finally:
        release.set()
    by_task = {}
    for r in records:
        by_task.setdefault(r["task"], []).append(r)
    assert all(r["outcome"] == "error" and r["timeout"] and "--episode-timeout" in r["reason"] for r in by_task["hangs"])
    assert all(r["outcome"] in ("success", "failure") for r in by_task["fine"])
    assert len(Env.made) >= 4  # every timeout started a fresh worker
    # The abandoned calls finish in their own threads; in one `gui-agent eval` process they end with it, so let
    # them come back before this process's second run reuses their episode directories.
    deadline = time.monotonic() + 30
    while len(returned) < len(by_task["hangs"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    again = run_units(units, None, tmp_path, make_worker=Stuck, workers=2, retry_errors=True, console=QUIET)
    assert all(r["outcome"] != "error" for r in again)  # the timed-out ones ran again; released, they finish
    assert len(load_results(tmp_path)) == 9


def test_a_configuration_error_stops_the_run_and_nothing_unfinished_is_recorded(tmp_path: Path) -> None:
    class Broken(Env):
        def __call__(self, unit, directory):
            if unit.episode == 2:
                raise ConfigError("the model server went away")
            return super().__call__(unit, directory)

    with pytest.raises(ConfigError, match="went away"):
        run_units(plan(["a"], 6), None, tmp_path, make_worker=Broken, workers=2, console=QUIET)
    recorded = {r["episode"] for r in load_results(tmp_path)}
    assert 2 not in recorded and recorded <= {0, 1, 3, 4, 5}
    records = run_units(plan(["a"], 6), None, tmp_path, make_worker=Env, workers=2, console=QUIET)
    assert [r["episode"] for r in records] == list(range(6)) and len(load_results(tmp_path)) == 6


def test_an_environment_that_does_not_start_makes_errors_not_a_crash(tmp_path: Path) -> None:
    def no_browser(index: int):
        raise RuntimeError("chromium exited")

    records = run_units(plan(["a"], 3), None, tmp_path, make_worker=no_browser, workers=2, console=QUIET)
    assert all(r["outcome"] == "error" and "chromium exited" in r["reason"] for r in records)


def test_summary_json_names_options_and_versions(tmp_path: Path) -> None:
    records = run_units(plan(["a", "b"], 2), None, tmp_path, make_worker=Env, workers=2, console=QUIET)
    summary = write_summary(tmp_path, records, {"suite": "x", "workers": 2})
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == summary and on_disk["options"]["workers"] == 2 and "pydantic" in on_disk["versions"]
    assert [g["name"] for g in on_disk["groups"]] == ["a", "b", "all"] and on_disk["groups"][-1]["successes"] == 2


def test_progress_shows_eta_and_live_success_rate(tmp_path: Path) -> None:
    buf = io.StringIO()
    run_units(plan(["a"], 4), None, tmp_path, make_worker=Env, workers=2,
              console=Console(file=buf, width=160, force_terminal=False))
    text = buf.getvalue()
    assert "eta" in text and "50.0% success (2/4)" in text
