"""Transformers batching of grounding samples: left padding, per-sample geometry, the same answers."""

from __future__ import annotations

import json
from pathlib import Path

from agent.cli import main
from agent.models.pool import Batched
from tasks.screenspot import evaluate
from tasks.screenspot.data import load
from tasks.screenspot.grounding import QuerySettings
from tests.screenspot.conftest import make_v1

SETTINGS = QuerySettings(min_pixels=3136, max_pixels=60_000)


def _answers(out: Path) -> dict[str, tuple[str, list[int]]]:
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return {r["task"]: (r["answer"], r["model_size"]) for r in records}


def test_batched_answers_equal_one_at_a_time(tiny_model, tmp_path: Path) -> None:
    """Screenshots of different sizes (so different prompt lengths and image grids) in one batch: every
    row's greedy answer and model-space size equal the unbatched run's."""
    make_v1(tmp_path / "data")  # 540x1170, 1000x600 and 1280x720 screens: mixed sizes
    dataset = load(tmp_path / "data")
    single = evaluate(dataset, tiny_model, tmp_path / "single", SETTINGS)
    batched_model = Batched(tiny_model, 4)
    batched = evaluate(dataset, batched_model, tmp_path / "batched", SETTINGS, workers=4)
    assert single["scored"] == batched["scored"] == 8
    assert _answers(tmp_path / "batched") == _answers(tmp_path / "single")
    assert max(batched_model.batches) > 1 and sum(batched_model.batches) == 8  # it did batch
    assert len({tuple(size) for _, size in _answers(tmp_path / "single").values()}) >= 2  # mixed geometries


def test_cli_batch_size(tiny_model_dir, tmp_path: Path) -> None:
    make_v1(tmp_path / "v1")
    code = main(["eval", "screenspot", "--data", str(tmp_path / "v1"), "--model", str(tiny_model_dir), "--limit", "4",
                 "--max-pixels", "50000", "--max-new-tokens", "8", "--batch-size", "4", "--out", str(tmp_path / "out")])
    assert code == 0
    assert len((tmp_path / "out" / "results.jsonl").read_text().splitlines()) == 4
