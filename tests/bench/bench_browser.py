"""Browser environment overhead per step against one raw Playwright screenshot, in one run.

For a simple page (the demo app's sign-in), a busy one (noise, gradients, 300 cards) and the busy one on
a live canvas (where the settle must compare screenshots), at 1280x720
and at device scale factor 2, measured interleaved so load on the machine hits every column alike:
  raw png / raw jpeg  Playwright's ``page.screenshot()`` (the baseline: what any Playwright agent pays)
  capture             ``env.observe()``: DevTools screenshot in physical px + decode to a PIL image
  encode              JPEG q90 of that screenshot (what the trajectory and an HTTP model get)
  execute / settle    a mouse move through ``env.execute`` and the settle after it on the steady page
  step                capture + execute + settle: the environment's own cost of one step
Target: step <= 1.3x raw png.
"""

from __future__ import annotations

import statistics
import time

from rich.console import Console
from rich.table import Table

from agent.geometry import ScreenPoint, Size
from agent.imaging import encode
from environments.base import Command
from environments.browser import BrowserEnvironment, launch_browser
from environments.webapps import WebAppServer
from tools import get_tool

ROUNDS = 8
MOVE = get_tool("computer_use").validate({"action": "mouse_move", "coordinate": [1, 1]})


def _ms(f) -> tuple[float, object]:
    t = time.perf_counter()
    value = f()
    return (time.perf_counter() - t) * 1000, value


def measure(env: BrowserEnvironment) -> dict[str, float]:
    samples: dict[str, list[float]] = {k: [] for k in ("raw png", "raw jpeg", "capture", "encode", "execute", "settle", "step")}
    for i in range(ROUNDS + 1):
        raw_png, _ = _ms(lambda: env.page.screenshot(type="png"))
        raw_jpeg, _ = _ms(lambda: env.page.screenshot(type="jpeg", quality=90))
        capture, observation = _ms(env.observe)
        enc, _ = _ms(lambda image=observation.screenshot: encode(image, "jpeg"))
        point = ScreenPoint(100 + 10 * i, 200)
        result = env.execute(Command(MOVE, point))
        if i == 0:
            continue  # warm-up
        row = {"raw png": raw_png, "raw jpeg": raw_jpeg, "capture": capture, "encode": enc,
               "execute": result.info["execute_ms"], "settle": result.info["settle_ms"]}
        row["step"] = capture + row["execute"] + row["settle"]
        for k, v in row.items():
            samples[k].append(v)
    return {k: statistics.median(v) for k, v in samples.items()}


def main() -> None:
    console = Console(width=150)
    table = Table(title=f"browser environment per step, median of {ROUNDS} (ms)")
    for column in ("page", "viewport", "raw png", "raw jpeg", "capture", "encode", "execute", "settle", "step",
                   "step / raw png", "step / raw jpeg"):
        table.add_column(column, justify="right" if column not in ("page",) else "left")
    playwright, browser = launch_browser()
    ratios = []
    try:
        with WebAppServer() as server:
            for scale in (1.0, 2.0):
                for name, path in (("simple", "demo/"), ("busy", "busy.html"), ("canvas", "busy.html?canvas=1")):
                    with BrowserEnvironment(None, Size(1280, 720), scale, browser=browser) as env:
                        env.goto(server.url(path))
                        m = measure(env)
                    ratio = m["step"] / m["raw png"]
                    ratios.append(ratio)
                    table.add_row(name, f"1280x720@{scale:g}", *(f"{m[k]:.1f}" for k in
                                  ("raw png", "raw jpeg", "capture", "encode", "execute", "settle", "step")),
                                  f"[{'green' if ratio <= 1.3 else 'red'}]{ratio:.2f}x[/]",
                                  f"{m['step'] / m['raw jpeg']:.2f}x")
    finally:
        browser.close()
        playwright.stop()
    console.print(table)
    console.print("simple: the demo app's sign-in page; busy: full-screen noise, gradients and 300 cards; canvas: "
                  "the busy page drawn on a live <canvas>, where the settle also compares two thumbnails")
    console.print(f"worst step / raw png: {max(ratios):.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
