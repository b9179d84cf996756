"""SIGKILL a real `gui-agent eval screenspot` process at random moments while it writes, resume until done.

A killed process can leave ``results.jsonl`` ending in half a line (or in a whole record without its
newline). Whatever the moment, resuming must end with every line valid, no sample twice and none lost.
Half the kills come at a random moment after the process starts writing; the other half as soon as the
test sees a write in progress (the file not ending in a newline), so torn lines really occur. The records
are large (the scripted answer carries ~190 KB of prose after the call) so that writing one takes long
enough for that.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent.geometry import Size
from agent.models.testing import ScriptedServer
from tests.screenspot.conftest import answer, render

ROOT = Path(__file__).resolve().parents[2]
KILLS = 24
SCREENS = 3
COLUMNS, ROWS = 8, 10  # targets per screen: 80, so 240 samples
SIZE = Size(1280, 720)
SENTENCE = "\nThe element described is at that point on the screen. "
PROSE = SENTENCE * (190_000 // len(SENTENCE))  # under the parser's 200,000-character limit


def _dataset(root: Path) -> dict[str, tuple[float, float]]:
    """A v2 web split: SCREENS screenshots of a grid of boxes; instruction -> centre."""
    centres: dict[str, tuple[float, float]] = {}
    records = []
    w, h = SIZE.width // COLUMNS, SIZE.height // ROWS
    for screen in range(SCREENS):
        boxes = []
        for i in range(COLUMNS * ROWS):
            x, y = (i % COLUMNS) * w + 4, (i // COLUMNS) * h + 4
            instruction = f"cell {i} on screen {screen}"
            boxes.append((instruction, (x, y, x + w - 8, y + h - 8)))
            centres[instruction] = (x + (w - 8) / 2, y + (h - 8) / 2)
            records.append({"img_filename": f"screen{screen}.png", "bbox": [x, y, w - 8, h - 8],
                            "instruction": instruction, "data_type": "text", "data_source": "grid"})
        render(root / "screenspotv2_image" / f"screen{screen}.png", SIZE, boxes)
    (root / "screenspot_web_v2.json").write_text(json.dumps(records))
    return centres


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _ends_mid_line(path: Path) -> bool:
    with open(path, "rb") as f:
        if not f.seek(0, os.SEEK_END):
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def _kill_mid_write(process: subprocess.Popen, path: Path, within: float) -> None:
    """SIGKILL ``process`` the moment ``path`` is seen half-written, or after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and process.poll() is None and not _ends_mid_line(path):
        pass
    process.send_signal(signal.SIGKILL)


def test_sigkill_mid_write_twenty_times_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    centres = _dataset(tmp_path / "data")
    out = tmp_path / "out"
    results = out / "results.jsonl"

    def reply(body: dict) -> str:
        user = next(m for m in body["messages"] if m["role"] == "user")
        instruction = next(c["text"] for c in user["content"] if c["type"] == "text")
        return answer(centres[instruction], SIZE, prefill=True) + PROSE

    seed = int(os.environ.get("KILL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    command = [sys.executable, "-m", "agent.cli", "eval", "screenspot", "--data", str(tmp_path / "data"),
               "--model", "qwen", "--out", str(out), "--workers", "4"]
    kills = torn = 0
    with ScriptedServer(reply) as server:
        command += ["--base-url", server.base_url]
        while kills < KILLS:
            before = _size(results)
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while _size(results) == before and process.poll() is None:  # wait until it writes
                time.sleep(0.002)
            if kills % 2:
                time.sleep(rng.uniform(0, 0.15))
                process.send_signal(signal.SIGKILL)
            else:
                _kill_mid_write(process, results, rng.uniform(0.05, 0.3))
            if process.wait() == 0:
                break  # it finished everything before the kill
            kills += 1
            torn += _ends_mid_line(results)
        final = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-2000:]
    assert kills >= 20, f"only {kills} kills before the run finished (seed {seed}); make the data set larger"

    assert torn, f"no kill landed mid-write (seed {seed}): the test did not test the torn line"
    data = results.read_bytes()
    assert data.endswith(b"\n")
    records = [json.loads(line) for line in data.decode().splitlines()]  # every line valid JSON
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), f"duplicates (seed {seed})"
    assert set(ids) == {f"web/{i}" for i in range(len(centres))}, f"lost samples (seed {seed})"
    assert all(r["success"] for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scored"] == len(centres) and summary["overall"]["all"]["accuracy"] == 1.0
    print(f"seed {seed}: {kills} kills, {torn} left a torn last line")
