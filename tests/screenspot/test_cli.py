"""`gui-agent eval screenspot` end to end over the real HTTP path (a loopback OpenAI-compatible server)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from agent.cli import main
from agent.models.testing import ScriptedServer
from tasks.screenspot.grounding import PREFILL
from tests.screenspot.conftest import answer, make_pro, make_v1


def _grounder(targets, *, prefill: bool, max_pixels: int = 12_845_056):
    by_instruction = {t.instruction: t for t in targets}

    def reply(body: dict) -> str:
        user = next(m for m in body["messages"] if m["role"] == "user")
        instruction = next(c["text"] for c in user["content"] if c["type"] == "text")
        target = by_instruction[instruction]
        system = body["messages"][0]["content"]
        assert re.search(r"The screen's resolution is \d+x\d+\.", system)
        return answer(target.center, target.size, prefill=prefill, max_pixels=max_pixels)

    return reply


def test_cli_prefilled_over_http_with_workers(tmp_path: Path, capsys) -> None:
    targets = make_pro(tmp_path / "pro")
    with ScriptedServer(_grounder(targets, prefill=True), latency=0.05) as server:
        code = main(["eval", "screenspot", "--data", str(tmp_path / "pro"), "--base-url", server.base_url,
                     "--model", "qwen", "--out", str(tmp_path / "out"), "--workers", "4"])
    assert code == 0
    body = server.requests[0]
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["messages"][-1] == {"role": "assistant", "content": PREFILL} and body["temperature"] == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["overall"]["all"]["accuracy"] == 1.0 and summary["scored"] == len(targets)
    assert summary["settings"]["max_pixels"] == 12_845_056
    err = capsys.readouterr().err
    assert "Pro by group" in err and "Pro by application" in err


def test_cli_no_prefill_limit_and_split(tmp_path: Path) -> None:
    targets = make_v1(tmp_path / "v1")
    with ScriptedServer(_grounder(targets, prefill=False, max_pixels=200_000)) as server:
        code = main(["eval", "screenspot", "--data", str(tmp_path / "v1"), "--base-url", server.base_url,
                     "--model", "qwen", "--out", str(tmp_path / "out"), "--no-prefill", "--split", "mobile,web",
                     "--limit", "3", "--max-pixels", "200000"])
    assert code == 0
    assert all("continue_final_message" not in r and r["messages"][-1]["role"] == "user" for r in server.requests)
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [r["split"] for r in records] == ["mobile", "web", "mobile"] and all(r["success"] for r in records)
    assert all(r["model_size"][0] * r["model_size"][1] <= 200_000 for r in records)


def test_cli_bad_layout_exits_2_with_the_problem(tmp_path: Path, capsys) -> None:
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "app.json").write_text("[1, 2")
    code = main(["eval", "screenspot", "--data", str(tmp_path), "--base-url", "http://127.0.0.1:9/v1", "--model", "q"])
    assert code == 2
    assert "app.jsonisnotvalidJSON" in "".join(capsys.readouterr().err.split())


def test_cli_server_down_exits_2(tmp_path: Path, capsys) -> None:
    make_v1(tmp_path / "v1")
    code = main(["eval", "screenspot", "--data", str(tmp_path / "v1"), "--base-url", "http://127.0.0.1:9/v1",
                 "--model", "q", "--out", str(tmp_path / "out"), "--timeout", "2"])
    assert code == 2
    assert "cannotreachthemodelserver" in "".join(capsys.readouterr().err.split())


def test_cli_in_process_tiny_random_qwen25vl(tmp_path: Path) -> None:
    """The transformers path end to end: real processor, vision tower and generate; the answers are noise."""
    from agent.models.tiny import build_tiny_qwen25vl

    checkpoint = build_tiny_qwen25vl(tmp_path / "tiny")
    make_v1(tmp_path / "v1")
    code = main(["eval", "screenspot", "--data", str(tmp_path / "v1"), "--model", str(checkpoint), "--limit", "3",
                 "--max-pixels", "50000", "--max-new-tokens", "8", "--workers", "2", "--out", str(tmp_path / "out")])
    assert code == 0
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["correctness"] in ("correct", "wrong", "wrong_format") for r in records)
    assert all(r["answer"].startswith(PREFILL) and r["model_size"][0] * r["model_size"][1] <= 50_000 for r in records)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["scored"] == 3 and summary["settings"]["model"] == "tiny"


def test_cli_typo_in_model_then_the_corrected_command_and_a_moved_server(tmp_path: Path, capsys) -> None:
    """The first start fails on an unknown --model before any sample is scored; the fixed command runs, and
    resuming against the same model on another port (a restarted server) is the same evaluation."""
    targets = make_v1(tmp_path / "v1")
    common = ["eval", "screenspot", "--data", str(tmp_path / "v1"), "--out", str(tmp_path / "out")]
    with ScriptedServer(_grounder(targets, prefill=True)) as server:
        assert main([*common, "--base-url", server.base_url, "--model", "qwne"]) == 2
        assert "qwne" in capsys.readouterr().err
        assert main([*common, "--base-url", server.base_url, "--model", "qwen", "--limit", "4"]) == 0
    with ScriptedServer(_grounder(targets, prefill=True)) as moved:
        assert main([*common, "--base-url", moved.base_url, "--model", "qwen"]) == 0
        assert len(moved.requests) == len(targets) - 4
    assert "other options" not in capsys.readouterr().err


def test_cli_hung_server_stops_the_eval_and_the_resume_asks_only_what_is_missing(tmp_path: Path, capsys) -> None:
    """Each request costs one --timeout (retries included); after 2 x workers + 3 timeouts in a row the eval
    stops with a message saying how to resume, and the resume asks for exactly the samples not yet scored."""
    targets = make_v1(tmp_path / "v1")
    common = ["eval", "screenspot", "--data", str(tmp_path / "v1"), "--model", "qwen", "--out", str(tmp_path / "out")]
    with ScriptedServer(_grounder(targets, prefill=True), latency=2.0) as hung:
        code = main([*common, "--base-url", hung.base_url, "--timeout", "0.3"])
        asked = len(hung.requests)
    err = " ".join(capsys.readouterr().err.split())
    assert code == 3 and "the last 5 units failed on the model server" in err  # infrastructure (agent.exits) and "run the same command again" in err
    assert asked in (5, 6) and asked < len(targets)  # one request per sample (one more queued), the rest never sent
    with ScriptedServer(_grounder(targets, prefill=True)) as healthy:
        assert main([*common, "--base-url", healthy.base_url]) == 0
        assert len(healthy.requests) == len(targets)  # the 5 timed out and the 3 never asked
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    latest = {r["id"]: r for r in records}
    assert len(latest) == len(targets) and all(r["success"] for r in latest.values())
