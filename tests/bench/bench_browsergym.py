"""Peer benchmark: our MiniWoB++ environment against BrowserGym's, same pages, seeds and clicks, alternating.

BrowserGym (``browsergym-miniwob``, in ``.venv-browsergym``: ``make browsergym-venv``) runs in its own
interpreter behind tests/bench/browsergym_driver.py; both launch Debian's chromium and load the very same
files (the ``miniwob`` wheel's pages, ``file://``). BrowserGym seeds a page with
``RandomState(seed).randint(0, 1000000)``; ours is given that number, and the instructions must come out
equal, or the run stops. Each episode runs ours first — the click points are the centres of the page's
targets found on our page (untimed) — then BrowserGym's defaults and its cheapest setting on the same
points, in alternating order; the element under every point is read in both (untimed) and compared.

Reset = a fresh seeded episode up to its first screenshot. Step = one coordinate click until the next
screenshot is in hand: ours is `MiniWoBEpisode.execute` (click, settle, read the page's reward) plus
``observe()``, what the agent loop does; BrowserGym's is ``env.step("mouse_click(x, y)")`` (its
observation includes the screenshot in defaults; in the cheapest setting its ``extract_screenshot`` of
the raw page is added). Run: ``make bench`` or ``.venv/bin/python -m tests.bench browsergym``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from agent.geometry import ScreenPoint
from environments.base import Command
from environments.chromium import find_chromium
from tasks.miniwob.suite import open_browser
from tasks.miniwob.task import TASK_AREA, MiniWoBEpisode, MiniWoBTask, html_dir
from tests.bench.browsergym_driver import PROBE
from tools import get_tool

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("browsergym_driver.py")
# What each episode clicks, in order: up to 3 visible matches of each selector (a no-op click on the
# instruction text, checkboxes, a text field, an animated accordion header, then the button that ends it).
TASKS: dict[str, tuple[str, ...]] = {
    "click-button": ("#query", "#area button"),
    "click-checkboxes": ("#boxes input", "#subbtn"),
    "enter-text": ("#tt", "#query", "#subbtn"),
    "click-collapsible": ("#area h3", "#subbtn"),
    "click-tab": ("#area ul a",),
}
SEEDS = range(3)
SETTINGS = ("defaults", "cheapest")
_TARGET = """([selectors, k, w, h]) => {
  const points = [];
  for (const sel of selectors) {
    let n = 0;
    for (const el of document.querySelectorAll(sel)) {
      const r = el.getBoundingClientRect();
      const x = Math.round(r.left + r.width / 2), y = Math.round(r.top + r.height / 2);
      if (r.width === 0 || r.height === 0 || x < 0 || y < 0 || x >= w || y >= h || n === 3) continue;
      points.push([x, y]); n += 1;
    }
  }
  return k < points.length ? points[k] : null;
}"""


def browsergym_python() -> Path:
    """BrowserGym's interpreter: ``GUI_AGENT_BROWSERGYM_PYTHON`` or ``.venv-browsergym`` in the checkout."""
    path = Path(os.environ.get("GUI_AGENT_BROWSERGYM_PYTHON") or ROOT / ".venv-browsergym" / "bin" / "python")
    if not path.exists():
        raise SystemExit(f"BrowserGym's venv is missing ({path}): build it with `make browsergym-venv` "
                         "(python3 tests/bench/install_browsergym.py .venv-browsergym), or point "
                         "GUI_AGENT_BROWSERGYM_PYTHON at a python that has browsergym-miniwob")
    return path


class Peer:
    """BrowserGym behind tests/bench/browsergym_driver.py, one JSON line each way."""

    def __init__(self, python: Path, chromium: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env |= {"MINIWOB_URL": html_dir().as_uri() + "/", "BROWSERGYM_CHROMIUM": chromium}
        self.proc = subprocess.Popen([str(python), str(DRIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)

    def ask(self, **request: Any) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"BrowserGym's driver exited (code {self.proc.wait()}) on {request}; its stderr is above")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"op": "close"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def ours(env: Any, task_id: str, page_seed: int) -> dict[str, Any]:
    """One episode in our environment: reset, then clicks on the task's targets until the page ends it."""
    tool = get_tool("computer_use")
    episode = MiniWoBEpisode(env, MiniWoBTask(task_id), page_seed)
    t = time.perf_counter()
    goal = episode.start()
    image = episode.reset().screenshot
    out: dict[str, Any] = {"reset_s": time.perf_counter() - t, "goal": goal, "screenshot": [image.height, image.width],
                           "points": [], "steps": [], "hits": [], "done": [], "parts": []}
    try:
        for k in range(8):
            point = env.page.evaluate(_TARGET, [list(TASKS[task_id]), k, TASK_AREA.width, TASK_AREA.height])
            if point is None:
                break
            out["hits"].append(env.page.evaluate(PROBE, point))
            command = Command(tool.validate({"action": "left_click", "coordinate": point}), ScreenPoint(*point))
            t = time.perf_counter()
            result = episode.execute(command)
            t_seen = time.perf_counter()
            episode.observe()
            out["steps"].append(time.perf_counter() - t)
            info = result.info
            out["parts"].append((info.get("execute_ms", 0.0), info.get("settle_ms", 0.0),
                                 (time.perf_counter() - t_seen) * 1000, info.get("settle_quiet") == "frames"))
            out["points"].append(point)
            out["done"].append(result.done)
            if result.done:
                out["success"] = result.outcome == "success"
                break
    finally:
        episode.close()
    return out


def theirs(peer: Peer, setting: str, task_id: str, seed: int, points: list[list[int]]) -> dict[str, Any]:
    reset = peer.ask(op="reset", setting=setting, task=task_id, seed=seed)
    out = reset | {"steps": [], "hits": [], "done": []}
    for x, y in points:
        step = peer.ask(op="step", x=x, y=y)
        if step["error"]:
            raise SystemExit(f"BrowserGym ({setting}) failed to click ({x}, {y}) in {task_id}: {step['error']}")
        out["steps"].append(step["step_s"])
        out["hits"].append(step["hit"])
        out["done"].append(step["done"])
        if step["done"]:
            out["success"] = step["reward"] > 0
    return out


def page_seed(seed: int) -> int:
    """The number BrowserGym's MiniWoB++ task hands ``Math.seedrandom`` for episode ``seed``."""
    return int(np.random.RandomState(seed).randint(0, 1000000))


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> int:
    python, chromium = browsergym_python(), find_chromium()
    if chromium is None:
        raise SystemExit("Debian's chromium is missing: `sudo apt-get install chromium` (make system-deps)")
    resets: dict[str, list[float]] = {"ours": [], **{s: [] for s in SETTINGS}}
    steps: dict[str, list[float]] = {"ours": [], **{s: [] for s in SETTINGS}}
    shots: dict[str, list[int]] = {}
    clicks = same_hits = episodes = same_outcome = 0
    differences: list[str] = []
    per_task: dict[str, dict[str, list[float]]] = {t: {"ours": [], **{s: [] for s in SETTINGS}} for t in TASKS}
    parts: list[tuple[float, float, float, bool]] = []
    peer, env = Peer(python, chromium), open_browser()
    try:
        for seed in SEEDS:
            for i, task_id in enumerate(TASKS):
                mine = ours(env, task_id, page_seed(seed))
                resets["ours"].append(mine["reset_s"])
                steps["ours"] += mine["steps"]
                per_task[task_id]["ours"] += mine["steps"]
                parts += mine["parts"]
                shots["ours"] = mine["screenshot"]
                order = SETTINGS if (seed + i) % 2 == 0 else SETTINGS[::-1]
                for setting in order:
                    peer_run = theirs(peer, setting, task_id, seed, mine["points"])
                    if peer_run["goal"] != mine["goal"] or peer_run["page_seed"] != page_seed(seed):
                        raise SystemExit(f"{task_id} seed {seed}: the pages differ (ours {mine['goal']!r}, "
                                         f"BrowserGym {peer_run['goal']!r}); the comparison would be meaningless")
                    resets[setting].append(peer_run["reset_s"])
                    steps[setting] += peer_run["steps"]
                    per_task[task_id][setting] += peer_run["steps"]
                    shots[setting] = peer_run["screenshot"]
                    clicks += len(mine["hits"])
                    for point, a, b in zip(mine["points"], mine["hits"], peer_run["hits"], strict=True):
                        same_hits += a == b
                        if a != b:
                            differences.append(f"{task_id} seed {seed} {setting} at {point}: ours {a}, theirs {b}")
                    episodes += 1
                    ends = (mine["done"], mine.get("success")), (peer_run["done"], peer_run.get("success"))
                    same_outcome += ends[0] == ends[1]
                    if ends[0] != ends[1]:
                        differences.append(f"{task_id} seed {seed} {setting}: ours ended {ends[0]}, theirs {ends[1]}")
                print(f"{task_id} seed {seed}: {len(mine['steps'])} clicks, ours reset "
                      f"{mine['reset_s'] * 1000:.0f} ms, step {_ms(mine['steps']):.0f} ms", flush=True)
    finally:
        env.close()
        peer.close()
    report(resets, steps, shots, clicks, same_hits, episodes, same_outcome, per_task)
    median = [statistics.median(p[i] for p in parts) for i in range(3)]
    print(f"ours per step (medians): click {median[0]:.0f} ms, settle {median[1]:.0f} ms (two frames after the last "
          f"change in {sum(p[3] for p in parts)}/{len(parts)} steps, else the 40 ms quiet window), screenshot "
          f"{median[2]:.0f} ms; the rest is the reward reads and the target lookup")
    if differences:
        print("where the two differ (BrowserGym's cheapest setting does not wait for animations: the click after "
              "an accordion opens lands where the Submit button is not yet):")
    for line in differences:
        print("  ", line)
    return 0


def report(resets, steps, shots, clicks, same_hits, episodes, same_outcome, per_task) -> None:
    console = Console(width=120)
    table = Table(title=f"MiniWoB++: ours vs BrowserGym 0.14.3 ({len(TASKS)} tasks x {len(SEEDS)} seeds, "
                        f"{len(steps['ours'])} clicks each; medians, alternating)")
    for column in ("environment", "screenshot", "reset ms", "step ms", "our reset / its", "our step / its"):
        table.add_column(column, justify="right")
    names = {"ours": "ours", "defaults": "BrowserGym defaults", "cheapest": "BrowserGym cheapest"}
    for name, label in names.items():
        reset, step = _ms(resets[name]), _ms(steps[name])
        h, w = shots[name]
        table.add_row(label, f"{w}x{h}", f"{reset:.0f}", f"{step:.0f}", f"{_ms(resets['ours']) / reset:.2f}",
                      f"{_ms(steps['ours']) / step:.2f}")
    console.print(table)
    by_task = Table(title="step ms per task (medians)")
    by_task.add_column("task")
    for label in names.values():
        by_task.add_column(label, justify="right")
    for task_id, times in per_task.items():
        by_task.add_row(task_id, *(f"{_ms(times[name]):.0f}" for name in names))
    console.print(by_task)
    console.print("cheapest = slow_mo 0, pre_observation_delay 0, raw page output plus its extract_screenshot; "
                  "defaults add the 100 ms slow_mo, a 0.5 s sleep and the DOM + accessibility tree extraction.")
    console.print(f"same page in {episodes}/{episodes} BrowserGym episodes (equal instructions); same element under "
                  f"the click in {same_hits}/{clicks}; same end (done, success) in {same_outcome}/{episodes}")
    step_ok = _ms(steps["ours"]) <= _ms(steps["cheapest"])
    reset_ok = _ms(resets["ours"]) <= _ms(resets["cheapest"]) / 2
    console.print(f"target: our step <= BrowserGym's cheapest: {'met' if step_ok else 'NOT met'} "
                  f"({_ms(steps['ours']):.0f} vs {_ms(steps['cheapest']):.0f} ms); our reset <= half of its cheapest: "
                  f"{'met' if reset_ok else 'NOT met'} ({_ms(resets['ours']):.0f} vs {_ms(resets['cheapest']):.0f} ms)")


if __name__ == "__main__":
    sys.exit(main())
