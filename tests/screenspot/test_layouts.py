"""Broken copies of ScreenSpot: a bad sample is reported and skipped; a wrong layout is a clear ConfigError."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.errors import ConfigError
from tasks.screenspot.data import load
from tests.screenspot.conftest import make_pro, make_v1


def test_empty_directory_names_the_expected_layouts(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(ConfigError, match=r"screenspot_<platform>\.json.*annotations/.*Found: readme\.txt"):
        load(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a directory"):
        load(tmp_path / "nope")


def test_wrong_explicit_format(tmp_path: Path) -> None:
    make_v1(tmp_path)
    with pytest.raises(ConfigError, match=r"--format pro needs .*annotations/\*\.json"):
        load(tmp_path, "pro")
    pro = tmp_path / "pro"
    make_pro(pro)
    with pytest.raises(ConfigError, match="--format v1 needs screenspot_<platform>.json"):
        load(pro, "v1")


def test_invalid_json_and_non_list(tmp_path: Path) -> None:
    make_v1(tmp_path)
    (tmp_path / "screenspot_web.json").write_text('[{"img_filename": "web_0.png", ')
    with pytest.raises(ConfigError, match=r"screenspot_web\.json is not valid JSON .*line 1"):
        load(tmp_path)
    (tmp_path / "screenspot_web.json").write_text('{"img_filename": "web_0.png", "bbox": [1, 2, 3, 4]}')
    with pytest.raises(ConfigError, match="must hold a JSON list of samples, but holds a dict"):
        load(tmp_path)


def test_images_not_found(tmp_path: Path) -> None:
    make_v1(tmp_path)
    shutil.rmtree(tmp_path / "screenspot_imgs")
    with pytest.raises(ConfigError, match=r"cannot find the images .*'desktop_0\.png'.*--images DIR"):
        load(tmp_path)


def test_images_elsewhere_with_option(tmp_path: Path) -> None:
    make_v1(tmp_path / "data")
    shutil.move(tmp_path / "data" / "screenspot_imgs", tmp_path / "pictures")
    assert len(load(tmp_path / "data", images=tmp_path / "pictures").samples) == 8
    with pytest.raises(ConfigError, match="--images .* is not a directory"):
        load(tmp_path / "data", images=tmp_path / "missing")


def test_bad_samples_are_reported_and_skipped(tmp_path: Path) -> None:
    make_v1(tmp_path)
    path = tmp_path / "screenspot_mobile.json"
    items = json.loads(path.read_text())
    good = items[2]
    del items[0]["bbox"]
    items[1]["bbox"] = [1, 2, 3]
    items += [{**good, "img_filename": "missing.png"}, {**good, "data_type": "button"},
              {**good, "bbox": [10, 10, -5, 5]}, "not an object"]
    path.write_text(json.dumps(items))
    dataset = load(tmp_path)
    assert len(dataset.samples) == 6 and [s.id for s in dataset.samples if s.split == "mobile"] == ["mobile/2"]
    assert dataset.problems[:2] == [
        "screenspot_mobile.json[0]: missing field bbox",
        "screenspot_mobile.json[1]: bbox must be 4 numbers [x, y, width, height], got [1, 2, 3]",
    ]
    assert dataset.problems[2].startswith("screenspot_mobile.json[3]: image ") and "missing.png does not exist" in dataset.problems[2]
    assert dataset.problems[3:] == [
        "screenspot_mobile.json[4]: data_type must be text or icon, got 'button'",
        "screenspot_mobile.json[5]: bbox [10, 10, -5, 5] has a negative width or height (v1/v2 boxes are [x, y, width, height])",
        "screenspot_mobile.json[6]: expected an object, got str",
    ]


def test_file_with_no_usable_sample_is_a_layout_error(tmp_path: Path) -> None:
    make_v1(tmp_path)
    path = tmp_path / "screenspot_web.json"
    items = [{"image": i["img_filename"], "box": i["bbox"]} for i in json.loads(path.read_text())]
    path.write_text(json.dumps(items))
    with pytest.raises(ConfigError, match=r"no usable sample in .*screenspot_web\.json .*missing fields img_filename, "
                                          r"instruction, bbox, data_type"):
        load(tmp_path)


def test_unknown_split(tmp_path: Path) -> None:
    make_v1(tmp_path)
    with pytest.raises(ConfigError, match="unknown --split tablet; this v1 copy has: desktop, mobile, web"):
        load(tmp_path, splits=["tablet"])
    assert {s.split for s in load(tmp_path, splits=["web"]).samples} == {"web"}


def test_pro_bad_fields(tmp_path: Path) -> None:
    make_pro(tmp_path)
    path = tmp_path / "annotations" / "vscode_linux.json"
    items = json.loads(path.read_text())
    items[0]["bbox"] = [50, 50, 10, 10]  # x2 < x1: an [x, y, w, h] box in a Pro file
    items[1]["img_size"] = [0, 1080]
    del items[2]["ui_type"]
    items.append({**items[0], "bbox": [1, 2, 30, 40], "id": "extra", "instruction": " "})
    path.write_text(json.dumps(items + [{**items[0], "id": "ok", "bbox": [1, 2, 30, 40]}]))
    dataset = load(tmp_path)
    assert [s.id for s in dataset.samples if s.split == "vscode_linux"] == ["vscode_linux/ok"]
    assert dataset.problems == [
        "vscode_linux.json[0]: bbox [50, 50, 10, 10] has x2 < x1 or y2 < y1 (Pro boxes are [x1, y1, x2, y2])",
        "vscode_linux.json[1]: img_size [0, 1080] is not a positive [width, height]",
        "vscode_linux.json[2]: missing field ui_type",
        "vscode_linux.json[3]: instruction is empty or missing",
    ]


def test_duplicate_ids_are_a_layout_error(tmp_path: Path) -> None:
    make_pro(tmp_path)
    path = tmp_path / "annotations" / "excel_windows.json"
    items = json.loads(path.read_text())
    items[1]["id"] = items[0]["id"]
    path.write_text(json.dumps(items))
    with pytest.raises(ConfigError, match="sample id 'excel_windows/excel_windows_0' appears twice"):
        load(tmp_path)
