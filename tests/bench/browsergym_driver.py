"""BrowserGym's MiniWoB++ environment behind a JSON-lines pipe, for tests/bench/bench_browsergym.py.

Runs in ``.venv-browsergym`` (tests/bench/install_browsergym.py), not in the project's venv: BrowserGym
pins Playwright 1.44. Reads one request per line on stdin, answers one JSON line on stdout; the times
are measured here, around BrowserGym's own calls, so the pipe costs neither side anything:

- ``{"op": "reset", "setting": "defaults"|"cheapest", "task": "click-button", "seed": 0}`` ->
  ``{"reset_s", "goal", "page_seed", "screenshot": [h, w]}``
- ``{"op": "step", "x": 12, "y": 80}`` (CSS px of the page) -> ``{"step_s", "hit", "reward", "done", "error"}``
- ``{"op": "close"}``

Settings: "defaults" is ``BrowserEnv`` as shipped (the task's slow_mo 100 ms, the 0.5 s
pre_observation_delay, DOM + accessibility tree + screenshot observation); "cheapest" switches those
off (slow_mo 0, no delay, ``use_raw_page_output``) and takes BrowserGym's own screenshot
(``extract_screenshot``) of the raw page, so each step still ends with a screenshot. Both launch Debian's
chromium: BrowserGym's ``pw_chromium_kwargs`` for the task browser, and a default ``executable_path`` on
Playwright's launcher for the chat window's browser, which BrowserGym launches without any options (no
Playwright browser is downloaded). Standard library and BrowserGym only: the harness imports ``PROBE``.
"""

from __future__ import annotations

import json
import os
import sys
import time

# The element under a CSS point, named the same way in both harnesses (evaluated outside the timings);
# its text only inside the task area: BrowserGym empties the instruction (#query) out of the page.
PROBE = """([x, y]) => {
  const el = document.elementFromPoint(x, y);
  if (!el) return null;
  const text = el.closest('#area') ? (el.innerText || el.value || '').trim().slice(0, 30) : '';
  return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (text ? ' "' + text + '"' : '');
}"""


def _task_class(task_id: str):
    from browsergym.miniwob import ALL_MINIWOB_TASKS

    for cls in ALL_MINIWOB_TASKS:
        if cls.subdomain == task_id:
            return cls
    raise SystemExit(f"browsergym_driver: BrowserGym has no MiniWoB++ task {task_id!r}")


class Driver:
    """One BrowserGym env at a time (a reset in BrowserGym launches a new browser anyway)."""

    def __init__(self, chromium: str) -> None:
        import browsergym.core
        from playwright.sync_api import sync_playwright

        self.chromium = chromium
        self.pw = sync_playwright().start()
        launch = self.pw.chromium.launch

        def launch_debian(**kwargs):
            kwargs.setdefault("executable_path", chromium)
            return launch(**kwargs)

        self.pw.chromium.launch = launch_debian
        browsergym.core._set_global_playwright(self.pw)
        self.env = None
        self.setting = None

    def reset(self, setting: str, task: str, seed: int) -> dict:
        import numpy as np
        from browsergym.core.action.highlevel import HighLevelActionSet
        from browsergym.core.env import BrowserEnv
        from browsergym.core.observation import extract_screenshot

        if setting not in ("defaults", "cheapest"):
            raise SystemExit(f"browsergym_driver: unknown setting {setting!r}")
        self.close()
        options: dict = {"headless": True, "pw_chromium_kwargs": {"executable_path": self.chromium},
                         "action_mapping": HighLevelActionSet(subsets=["coord"]).to_python_code}
        if setting == "cheapest":
            options |= {"slow_mo": 0, "pre_observation_delay": 0.0, "use_raw_page_output": True}
        self.env, self.setting = BrowserEnv(_task_class(task), **options), setting
        t = time.perf_counter()
        obs, _ = self.env.reset(seed=seed)
        shot = obs["screenshot"] if setting == "defaults" else extract_screenshot(obs["page"])
        elapsed = time.perf_counter() - t
        page_seed = int(np.random.RandomState(seed).randint(0, 1000000))  # what the task gave Math.seedrandom
        return {"reset_s": elapsed, "goal": obs["goal"], "page_seed": page_seed, "screenshot": list(shot.shape[:2])}

    def step(self, x: float, y: float) -> dict:
        from browsergym.core.observation import extract_screenshot

        page = self.env.page
        hit = page.evaluate(PROBE, [x, y])
        scale = getattr(page, "_bgym_scale_factor", 1.0)  # its actions take screenshot pixels
        t = time.perf_counter()
        obs, reward, done, _, _ = self.env.step(f"mouse_click({x * scale!r}, {y * scale!r})")
        if self.setting == "cheapest":
            extract_screenshot(obs["page"])
        elapsed = time.perf_counter() - t
        return {"step_s": elapsed, "hit": hit, "reward": reward, "done": bool(done), "error": obs["last_action_error"]}

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None


def main() -> None:
    if not os.environ.get("MINIWOB_URL"):
        raise SystemExit("browsergym_driver: set MINIWOB_URL to the MiniWoB++ html directory's URL (ending in /)")
    out, sys.stdout = sys.stdout, sys.stderr  # anything BrowserGym or Playwright prints stays off the pipe
    driver = Driver(os.environ.get("BROWSERGYM_CHROMIUM", "/usr/bin/chromium"))
    try:
        for line in sys.stdin:
            request = json.loads(line)
            op = request.pop("op")
            if op == "close":
                break
            answer = driver.reset(**request) if op == "reset" else driver.step(**request)
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        driver.close()
        driver.pw.stop()


if __name__ == "__main__":
    main()
