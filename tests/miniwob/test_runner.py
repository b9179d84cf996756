"""tasks.runner: resume without repeating finished units, recording, option check, summary table."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from agent.errors import ConfigError
from tasks.runner import RESULTS, finished, load_results, plan, results_table, run_units, summarise


def _recording_callback(calls, stop_after=None):
    def run_one(unit, directory):
        if stop_after is not None and len(calls) == stop_after:
            directory.mkdir()  # an interrupted unit leaves a partial directory behind
            raise KeyboardInterrupt
        calls.append(unit.key)
        directory.mkdir()
        (directory / "marker").write_text(unit.key)
        success = unit.seed % 2 == 0
        return {"outcome": "success" if success else "failure", "reward": 1.0 if success else -1.0, "steps": 2}

    return run_one


def test_plan_gives_every_task_the_same_seeds():
    units = plan(["a", "b"], 3, seed=10)
    assert [(u.task, u.episode, u.seed) for u in units] == [
        ("a", 0, 10), ("a", 1, 11), ("a", 2, 12), ("b", 0, 10), ("b", 1, 11), ("b", 2, 12)]
    with pytest.raises(ConfigError):
        plan(["a"], 0)


def test_interrupted_run_resumes_without_repeating_finished_units(tmp_path):
    units = plan(["a", "b"], 2)
    quiet = Console(file=io.StringIO())
    first: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_units(units, _recording_callback(first, stop_after=3), tmp_path, console=quiet)
    assert first == ["a#0", "a#1", "b#0"]
    assert [r["task"] + "#" + str(r["episode"]) for r in load_results(tmp_path)] == first

    second: list[str] = []
    records = run_units(units, _recording_callback(second), tmp_path, console=quiet)
    assert second == ["b#1"]  # only the unit that never finished
    assert [(r["task"], r["episode"]) for r in records] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert (tmp_path / "b-001.attempt-1").is_dir()  # the partial attempt is kept aside
    assert (tmp_path / "b-001" / "marker").read_text() == "b#1"
    lines = (tmp_path / RESULTS).read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["dir"] for line in lines)

    third: list[str] = []
    run_units(units, _recording_callback(third), tmp_path, console=quiet)
    assert third == []


def test_a_torn_last_line_is_dropped_and_its_unit_rerun(tmp_path):
    quiet = Console(file=io.StringIO())
    run_units(plan(["a"], 2), _recording_callback([]), tmp_path, console=quiet)
    results = tmp_path / RESULTS
    lines = results.read_text().splitlines(keepends=True)
    results.write_text(lines[0] + lines[1][: len(lines[1]) // 2])  # killed while writing the second record
    calls: list[str] = []
    records = run_units(plan(["a"], 2), _recording_callback(calls), tmp_path, console=quiet)
    assert calls == ["a#1"] and [r["episode"] for r in records] == [0, 1]
    assert [json.loads(line)["episode"] for line in results.read_text().splitlines()] == [0, 1]


def test_exceptions_become_error_records_and_can_be_retried(tmp_path):
    quiet = Console(file=io.StringIO())

    def broken(unit, directory):
        raise RuntimeError("browser went away")

    records = run_units(plan(["a"], 2), broken, tmp_path, console=quiet)
    assert [r["outcome"] for r in records] == ["error", "error"]
    assert "RuntimeError: browser went away" in records[0]["reason"] and records[0]["success"] is False
    assert len(finished(load_results(tmp_path), retry_errors=True)) == 0
    calls: list[str] = []
    records = run_units(plan(["a"], 2), _recording_callback(calls), tmp_path, console=quiet, retry_errors=True)
    assert calls == ["a#0", "a#1"] and [r["outcome"] for r in records] == ["success", "failure"]


def test_resume_with_other_options_is_refused(tmp_path):
    quiet = Console(file=io.StringIO())
    run_units(plan(["a"], 1), _recording_callback([]), tmp_path, config={"model": "x"}, console=quiet)
    with pytest.raises(ConfigError, match="model"):
        run_units(plan(["a"], 1), _recording_callback([]), tmp_path, config={"model": "y"}, console=quiet)


def test_summary_and_table():
    records = [
        {"task": "a", "episode": 0, "outcome": "success", "success": True, "reward": 1.0, "steps": 1},
        {"task": "a", "episode": 1, "outcome": "failure", "success": False, "reward": -1.0, "steps": 3},
        {"task": "b", "episode": 0, "outcome": "error", "success": False, "steps": 0},
    ]
    rows = summarise(records)
    assert [r.name for r in rows] == ["a", "b", "all"]
    assert rows[0].success_rate == 0.5 and rows[0].mean_reward == 0.0 and rows[0].mean_steps == 2.0
    assert rows[1].errors == 1 and rows[1].mean_reward is None
    assert rows[2].episodes == 3 and rows[2].successes == 1
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(results_table(rows, "MiniWoB++"))
    text = console.export_text()
    assert "50.0% (1)" in text and "33.3% (1)" in text and "MiniWoB++" in text


def test_resume_compares_only_options_that_change_results(tmp_path):
    """A moved server (base_url) or more workers is the same run; another model is not."""
    quiet = Console(file=io.StringIO())
    run_units(plan(["a"], 1), _recording_callback([]), tmp_path, config={"model": "x", "base_url": "http://a/v1"},
              console=quiet)
    calls: list[str] = []
    run_units(plan(["a"], 2), _recording_callback(calls), tmp_path, console=quiet,
              config={"model": "x", "base_url": "http://b:8001/v1", "workers": 4})
    assert calls == ["a#1"]
    assert json.loads((tmp_path / "eval.json").read_text())["base_url"] == "http://b:8001/v1"  # the latest start
    with pytest.raises(ConfigError, match="model: 'x' then, 'y' now") as refused:
        run_units(plan(["a"], 2), _recording_callback([]), tmp_path, config={"model": "y", "base_url": "http://b/v1"},
                  console=quiet)
    assert "base_url" not in str(refused.value)


def test_a_start_that_stopped_before_any_result_does_not_block_the_corrected_one(tmp_path):
    """A typo'd --model stops the first unit (a ConfigError, nothing recorded); the fixed command must run."""
    quiet = Console(file=io.StringIO())

    def unknown_model(unit, directory):
        raise ConfigError("the server does not serve model 'qwne'")

    with pytest.raises(ConfigError, match="qwne"):
        run_units(plan(["a"], 1), unknown_model, tmp_path, config={"model": "qwne"}, console=quiet)
    assert (tmp_path / "eval.json").is_file() and load_results(tmp_path) == []
    calls: list[str] = []
    run_units(plan(["a"], 1), _recording_callback(calls), tmp_path, config={"model": "qwen"}, console=quiet)
    assert calls == ["a#0"] and json.loads((tmp_path / "eval.json").read_text())["model"] == "qwen"


def test_an_eval_stops_after_consecutive_server_failures_and_resumes_exactly_those(tmp_path):
    from agent.errors import ModelTimeout, ServerFailing

    quiet = Console(file=io.StringIO())
    calls: list[str] = []

    def hung_server(unit, directory):
        calls.append(unit.key)
        if unit.key == "a#0":
            return {"outcome": "failure"}  # a task failure does not count towards the streak
        raise ModelTimeout("the model server did not answer within 120 s (1 try)")

    with pytest.raises(ServerFailing, match="the last 3 units failed on the model server.*--retry-errors"):
        run_units(plan(["a", "b"], 3), hung_server, tmp_path, console=quiet)
    assert calls == ["a#0", "a#1", "a#2", "b#0"]  # b#1 and b#2 never started
    assert [r["outcome"] for r in load_results(tmp_path)] == ["failure", "error", "error", "error"]
    resumed: list[str] = []
    run_units(plan(["a", "b"], 3), _recording_callback(resumed), tmp_path, console=quiet, retry_errors=True)
    assert resumed == ["a#1", "a#2", "b#0", "b#1", "b#2"]
