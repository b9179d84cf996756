"""ScreenSpot evaluation on fixture sets rendered here, scored with scripted answers of known correctness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.geometry import Size
from tasks.screenspot import evaluate, interleave
from tasks.screenspot.data import load
from tasks.screenspot.grounding import PREFILL, QuerySettings, score
from tests.screenspot.conftest import ScriptedGrounder, answer, centre_answers, geometry_of, make_pro, make_v1

SETTINGS = QuerySettings(min_pixels=3136)


def results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]


# -- scoring --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [Size(1000, 600), Size(540, 1170), Size(1920, 1080)])
def test_edges_count_and_one_pixel_outside_does_not(size: Size) -> None:
    box = (100, 50, 180, 90)
    g = geometry_of(size)
    assert g.model != size, "the fixture sizes must exercise the per-axis mapping"
    inside = [(100, 50), (180, 90), (100, 90), (180, 50), (140, 50), (140, 90), (100, 70), (180, 70), (140, 70)]
    outside = [(99, 70), (181, 70), (140, 49), (140, 91), (99, 49), (181, 91)]
    for point in inside:
        assert score(answer(point, size, prefill=False), g, box).correctness == "correct", point
    for point in outside:
        assert score(answer(point, size, prefill=False), g, box).correctness == "wrong", point


@pytest.mark.parametrize("text", [
    "The settings button is near the top of the screen.",  # prose
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [12',  # truncated
    PREFILL,  # the prefill with nothing after it
    "",
])
def test_unparseable_answers_are_wrong_format(text: str) -> None:
    result = score(text, geometry_of(Size(1000, 600)), (0, 0, 999, 599))
    assert result.correctness == "wrong_format" and result.point is None and result.reason


def test_box_answer_scores_its_centre() -> None:
    g = geometry_of(Size(1000, 600))  # model 1008x588
    text = '```json\n[{"bbox_2d": [100.8, 49, 181.44, 88.2], "label": "x"}]\n```'
    result = score(text, g, (100, 50, 180, 90))
    assert result.correctness == "correct"
    assert result.point == pytest.approx((140, 70), abs=1e-6)


def test_point_outside_the_image_is_wrong_not_a_crash() -> None:
    result = score('<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5000, 10]}}',
                   geometry_of(Size(1000, 600)), (0, 0, 100, 100))
    assert result.correctness == "wrong" and "outside" in result.reason


# -- whole runs with a known number of correct answers -------------------------------------------------
def test_v1_run_counts_known_correct(tmp_path: Path, v1_dir) -> None:
    root, targets = v1_dir
    answers = centre_answers(targets)
    by_name = {t.instruction: t for t in targets}
    t = by_name["close window"]  # on the right edge: counts
    answers[t.instruction] = answer((t.box[2], t.center[1]), t.size, prefill=True)
    t = by_name["save button"]  # one pixel below the box: does not
    answers[t.instruction] = answer((t.center[0], t.box[3] + 1), t.size, prefill=True)
    answers["logo"] = "I think it is the logo at the top left."  # prose after the prefill: wrong_format
    answers["back arrow"] = "1"  # truncated: "[1" is no point
    model = ScriptedGrounder(answers)
    dataset = load(root)
    assert dataset.format == "v1" and dataset.splits == ["desktop", "mobile", "web"] and not dataset.problems
    summary = evaluate(dataset, model, tmp_path / "out", SETTINGS)
    assert summary["overall"]["all"] == {"correct": 5, "total": 8, "accuracy": 0.625, "wrong_format": 2}
    assert summary["platform"]["mobile"]["icon"]["correct"] == 1 and summary["platform"]["mobile"]["icon"]["total"] == 2
    assert summary["platform"]["desktop"]["all"]["correct"] == 2
    assert summary["platform"]["web"]["text"]["accuracy"] == 1.0 and summary["platform"]["web"]["icon"]["wrong_format"] == 1
    assert list(summary["platform"]) == ["mobile", "desktop", "web"] and set(summary["source"]) == {"ios", "fixture"}
    records = results(tmp_path / "out")
    assert len(records) == 8 and all(r["answer"].startswith(PREFILL) for r in records)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["overall"]["all"]["correct"] == 5
    # the prompt: computer_use system turn with the model-space resolution, the bare instruction, one image
    prompt = model.prompts[0]
    w, h = prompt.meta["model_size"]
    assert f"The screen's resolution is {w}x{h}." in prompt.system and '"name": "computer_use"' in prompt.system
    assert '"answer"' not in prompt.system and "Optional for" not in prompt.system  # the cookbook schema
    assert prompt.images[0].size == (w, h) and prompt.prefill == PREFILL and prompt.user in by_name


def test_v2_and_pro_layouts(tmp_path: Path) -> None:
    v2, v2_targets = tmp_path / "v2", make_v1(tmp_path / "v2", v2=True)
    dataset = load(v2)
    assert dataset.format == "v2" and len(dataset.samples) == len(v2_targets)
    summary = evaluate(dataset, ScriptedGrounder(centre_answers(v2_targets)), tmp_path / "out-v2", SETTINGS)
    assert summary["overall"]["all"]["accuracy"] == 1.0

    pro, pro_targets = tmp_path / "pro", make_pro(tmp_path / "pro")
    dataset = load(pro)
    assert dataset.format == "pro" and {s.split for s in dataset.samples} == {"vscode_linux", "excel_windows"}
    sample = next(s for s in dataset.samples if s.instruction == "run button")
    assert sample.box == (1700, 40, 1760, 80) and sample.group == "Dev" and sample.id == "vscode_linux/vscode_linux_0"
    answers = centre_answers(pro_targets)
    answers["bold icon"] = answer((429.5, 49.5), Size(1600, 900), prefill=True)  # inside, near the corner
    answers["terminal text"] = answer((421, 915), Size(1920, 1080), prefill=True)  # one pixel right
    summary = evaluate(dataset, ScriptedGrounder(answers), tmp_path / "out-pro", SETTINGS)
    assert summary["overall"]["all"]["correct"] == 4 and summary["overall"]["text"] == {
        "correct": 1, "total": 2, "accuracy": 0.5, "wrong_format": 0}
    assert list(summary["group"]) == ["Dev", "Office"] and summary["group"]["Office"]["all"]["accuracy"] == 1.0
    assert set(summary["application"]) == {"vscode", "excel"}
    # Chinese instructions
    cn = load(pro, language="cn", splits=["excel_windows"])
    assert [s.instruction for s in cn.samples] == ["点击 sum function", "点击 bold icon"]


def test_without_prefill_the_whole_call_is_parsed(tmp_path: Path, v1_dir) -> None:
    root, targets = v1_dir
    model = ScriptedGrounder(centre_answers(targets, prefill=False))
    summary = evaluate(load(root), model, tmp_path / "out", QuerySettings(3136, prefill=False))
    assert summary["overall"]["all"]["accuracy"] == 1.0
    assert all(p.prefill == "" for p in model.prompts)
    assert all(not r["answer"].startswith(PREFILL) or r["answer"].count("<tool_call>") == 1 for r in results(tmp_path / "out"))


def test_resume_asks_only_for_missing_samples_and_retries_errors(tmp_path: Path, v1_dir) -> None:
    root, targets = v1_dir
    answers = centre_answers(targets)
    dataset = load(root)
    first = ScriptedGrounder(answers)
    evaluate(dataset, first, tmp_path / "out", SETTINGS, limit=3)
    assert len(first.prompts) == 3 and {r["split"] for r in results(tmp_path / "out")} == {"mobile", "desktop", "web"}

    def flaky(prompt):
        if prompt.user == "close window":
            raise RuntimeError("server hiccup")
        return answers[prompt.user]

    second = ScriptedGrounder(flaky)
    summary = evaluate(dataset, second, tmp_path / "out", SETTINGS, workers=3)
    assert len(second.prompts) == 5 and [e["id"] for e in summary["errors"]] == ["desktop/1"]
    assert summary["scored"] == 7
    third = ScriptedGrounder(answers)
    summary = evaluate(dataset, third, tmp_path / "out", SETTINGS)
    assert [p.user for p in third.prompts] == ["close window"]
    assert summary["errors"] == [] and summary["overall"]["all"]["accuracy"] == 1.0
    # other options on the same directory are refused, not mixed
    with pytest.raises(ConfigError, match="prefill"):
        evaluate(dataset, third, tmp_path / "out", QuerySettings(3136, prefill=False))


def test_torn_last_line_is_tolerated(tmp_path: Path, v1_dir) -> None:
    root, targets = v1_dir
    out = tmp_path / "out"
    evaluate(load(root), ScriptedGrounder(centre_answers(targets)), out, SETTINGS, limit=2)
    with open(out / "results.jsonl", "a") as f:
        f.write('{"task": "web/1", "episo')  # killed mid-write
    model = ScriptedGrounder(centre_answers(targets))
    summary = evaluate(load(root), model, out, SETTINGS, limit=5)
    assert len(model.prompts) == 3 and summary["scored"] == 5
    assert len(results(out)) == 5  # the fragment is gone, not kept as a corrupt middle line
    model = ScriptedGrounder(centre_answers(targets))
    summary = evaluate(load(root), model, out, SETTINGS)  # a second resume reads the file the first one left
    assert len(model.prompts) == 3 and summary["scored"] == 8 and len(results(out)) == 8


def test_interleave_takes_from_every_split(v1_dir) -> None:
    root, _ = v1_dir
    chosen = interleave(load(root).samples, 4)
    assert [s.split for s in chosen] == ["desktop", "mobile", "web", "desktop"]


def test_unreadable_image_is_skipped_and_reported(tmp_path: Path, v1_dir) -> None:
    root, targets = v1_dir
    (root / "screenspot_imgs" / "web_0.png").write_bytes(b"not a png")
    summary = evaluate(load(root), ScriptedGrounder(centre_answers(targets)), tmp_path / "out", SETTINGS)
    assert summary["scored"] == 6 and [s["id"] for s in summary["skipped"]] == ["web/0", "web/1"]
    assert "cannot use the image" in summary["skipped"][0]["reason"]
    assert summary["overall"]["all"]["accuracy"] == 1.0


def test_four_number_coordinate_scores_its_centre_like_the_pro_harness() -> None:
    g = geometry_of(Size(1008, 588))  # model space == image space
    text = PREFILL + "100, 50, 180, 90]}}\n</tool_call>"
    result = score(text, g, (130, 60, 150, 80))
    assert result.correctness == "correct" and result.point == (140, 70)
    assert score(PREFILL + "100, 50, 180]}}", g, (0, 0, 500, 500)).correctness == "wrong_format"


@pytest.mark.parametrize(("text", "correctness"), [
    # Qwen2-VL box tokens: scored by the box's centre, never its first corner (which lies outside the target)
    ("<|object_ref_start|>OK<|object_ref_end|><|box_start|>(90,40),(190,100)<|box_end|>", "correct"),
    ("<|box_start|>(90,40),(190,100)<|box_end|>", "correct"),
    ("OK(90,40),(190,100)", "correct"),  # the same after a server dropped the special tokens
    ("<|box_start|>(90,40),(190,100),(5,5)<|box_end|>", "wrong_format"),  # three points
    ("<|box_start|>(90,40),(190,100)", "wrong_format"),  # no end token
    ("<|box_start|>(90,40),(19", "wrong_format"),  # cut inside a number
    (PREFILL + "140, 7", "wrong_format"),  # the prefilled click cut inside y: not a click at (140, 7)
])
def test_box_tokens_score_their_centre(text: str, correctness: str) -> None:
    g = geometry_of(Size(1008, 588))  # model space == image space
    result = score(text, g, (130, 60, 150, 80))
    assert result.correctness == correctness, result
    if correctness == "correct":
        assert result.point == (140, 70)


def test_an_answer_stopped_at_the_token_limit_is_scored_only_if_complete() -> None:
    g = geometry_of(Size(1008, 588))
    box = (130, 60, 150, 80)
    assert score(PREFILL + "140, 70]}}", g, box, cut_off=True).correctness == "correct"  # the call was closed
    assert score("The OK button (140,70)", g, box).correctness == "correct"
    # at the limit, a pair at the very end may be the first corner of a box the model never finished
    assert score("The OK button (140,70)", g, box, cut_off=True).correctness == "wrong_format"
