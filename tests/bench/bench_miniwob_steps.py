"""MiniWoB++ reset and step times in our browser environment (no model): what the settle costs.

Reset = load the task page, seed and start it, settle, first screenshot. Step = a mouse move, the settle
after it and the next screenshot. Every MiniWoB++ page carries a hidden canvas; the settle compares pixels
only where a visible canvas/video/frame can change them, so these pages settle by the page script alone
(``settle_by`` is printed: "page" means no pixel comparison was needed).
"""

from __future__ import annotations

import statistics
import time

from agent.geometry import ScreenPoint
from environments.base import Command
from tasks.miniwob.suite import open_browser
from tasks.miniwob.task import MiniWoBTask
from tools import get_tool

TASKS = ("click-button", "click-checkboxes", "enter-text", "click-tab", "focus-text", "click-link")
SEEDS = range(3)


def main() -> None:
    tool = get_tool("computer_use")
    env = open_browser()
    resets, steps, settled_by = [], [], set()
    try:
        for task_id in TASKS:
            task = MiniWoBTask(task_id)
            for seed in SEEDS:
                t = time.perf_counter()
                task.setup(env, seed)
                env.observe()
                resets.append(time.perf_counter() - t)
                for _ in range(2):
                    move = Command(tool.validate({"action": "mouse_move", "coordinate": [1, 1]}), ScreenPoint(150, 200))
                    t = time.perf_counter()
                    result = env.execute(move)
                    env.observe()
                    steps.append(time.perf_counter() - t)
                    settled_by.add(result.info.get("settle_by"))
                task.teardown(env)
    finally:
        env.close()
    print(f"MiniWoB++ ({len(TASKS)} tasks x {len(SEEDS)} seeds, scale 3): reset median "
          f"{statistics.median(resets) * 1000:.0f} ms, step (move + settle + screenshot) median "
          f"{statistics.median(steps) * 1000:.0f} ms; settled by {sorted(settled_by)}")


if __name__ == "__main__":
    main()
