"""Scaling with --workers, locally and through a local Ray instance, against a model of fixed latency.

The model is `ScriptedServer` in its own process answering after 200 ms (a 7B model's short answer on a GPU).
ScreenSpot: 1288x728 screenshots (already model size: the client sends the file, so the case is
model-bound) — samples/s and speed-up per N, target ≥ 0.8·N up to 8. MiniWoB++: click-button episodes of
3 steps (one fixed click each) in one Chromium per worker — episodes/min; on 2 cores the browsers, not the
model, bound this case (see the note printed at the end). Workers and browsers are started before the clock
starts (a warm-up batch), so the figures are steady-state throughput.
"""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

WORKERS = (1, 2, 4, 8)
LATENCY = 0.2
SAMPLES = 64
EPISODES = 16
CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5, 300]}}\n</tool_call>'


def _answer(body: dict) -> str:
    return "30, 20]}}\n</tool_call>" if body["messages"][-1]["role"] == "assistant" else CLICK


def _serve(queue: mp.Queue, stop: mp.Event) -> None:
    from agent.models.testing import ScriptedServer

    with ScriptedServer(_answer, latency=LATENCY) as server:
        queue.put(server.base_url)
        stop.wait()


class _Kept:
    """A pool the runner may 'close' between batches: the same workers serve the warm-up and the timed batch."""

    def __init__(self, pool) -> None:
        self.pool = pool

    def __getattr__(self, name):
        return getattr(self.pool, name)

    def close(self, wait: bool = True) -> None:
        pass


def _timed(units, make_worker, n: int, out: Path, ray: bool) -> float:
    from tasks.pool import ThreadPool
    from tasks.ray_pool import RayPool
    from tasks.runner import plan, run_units

    quiet = Console(file=io.StringIO())
    pool = RayPool(make_worker, n, "local", cpus=0.25) if ray else ThreadPool(make_worker, n)
    try:
        run_units(plan([units[0].task], n, seed=100), None, out / "warm", pool=_Kept(pool), console=quiet)
        started = time.perf_counter()
        records = run_units(units, None, out / "run", pool=_Kept(pool), console=quiet)
        seconds = time.perf_counter() - started
    finally:
        pool.close()
    assert len(records) == len(units) and not [r for r in records if r.get("outcome") == "error"], records[:2]
    return seconds


def _model(base_url: str, name: str = "qwen", tokens: int = 64):
    """The model as the CLI gives it to workers: built from its options where it runs (Ray ships the recipe)."""
    from agent.models.recipe import LazyModel, ModelRecipe

    return LazyModel(ModelRecipe((("model", name), ("base_url", (base_url,)), ("api_key", None), ("timeout", 120.0),
                                  ("max_new_tokens", tokens), ("min_pixels", 3136), ("max_pixels", 12845056))))


def _screenspot_worker(base_url: str, root: Path, name: str = "qwen", tokens: int = 64):
    from tasks.screenspot.data import Sample
    from tasks.screenspot.grounding import QuerySettings, ground_sample

    model = _model(base_url, name, tokens)
    settings = QuerySettings(min_pixels=3136)

    def run(unit, directory):
        image = root / f"s{unit.episode % 8}.png"
        sample = Sample(f"{unit.task}{unit.episode}", image, "the button", (10, 10, 80, 40), "text", "web", "web")
        return ground_sample(model, sample, settings)

    return lambda index: run


def _screenspot(tmp: Path, base_url: str, ray: bool, name: str = "qwen", tokens: int = 64,
                samples: int = SAMPLES) -> list[float]:
    from PIL import Image, ImageDraw

    from tasks.runner import plan

    for i in range(8):
        image = Image.new("RGB", (1288, 728), (240, 240, 240))
        ImageDraw.Draw(image).rectangle([10 + i, 10, 80, 40], fill=(30, 90, 200))
        image.save(tmp / f"s{i}.png")
    rates = []
    for n in WORKERS:
        worker = _screenspot_worker(base_url, tmp, name, tokens)
        seconds = _timed(plan(["sample"], samples), worker, n, tmp / f"ss-{name}-{ray}-{n}", ray)
        rates.append(samples / seconds)
    return rates


def _vllm(tmp: Path) -> dict[str, list[float]] | str:
    """ScreenSpot against the real vLLM (CPU build) serving the tiny Qwen2.5-VL, 8 new tokens per answer."""
    from agent.commands.serve import REPO_VLLM_VENV

    python = Path(os.environ.get("GUI_AGENT_VLLM_PYTHON") or REPO_VLLM_VENV / "bin" / "python")
    if not python.exists():
        return f"not run: no {python} (`make vllm-venv`, or set $GUI_AGENT_VLLM_PYTHON)"
    from agent.models.tiny import build_tiny_qwen25vl_vllm
    from tests.vllm_server import TINY_NAME, start_server

    with start_server(build_tiny_qwen25vl_vllm(tmp / "tiny-vllm"), tmp / "vllm") as server:
        return {"local": _screenspot(tmp, server.base_url, False, TINY_NAME, 8, 32)}


def _miniwob(tmp: Path, base_url: str, ray: bool) -> list[float]:
    from agent.loop import AgentConfig
    from tasks.miniwob.suite import MiniWoBWorkers
    from tasks.runner import plan

    workers = MiniWoBWorkers(_model(base_url), AgentConfig(max_steps=3, max_retries=0))
    rates = []
    for n in WORKERS:
        seconds = _timed(plan(["click-button"], EPISODES), workers, n, tmp / f"mw-{ray}-{n}", ray)
        rates.append(EPISODES / seconds * 60)
    return rates


def _table(title: str, unit: str, rows: dict[str, list[float]], target: bool) -> Table:
    table = Table(title=title)
    for column in ("runner", "workers", unit, "speed-up", *(("≥ 0.8·N",) if target else ())):
        table.add_column(column, justify="right")
    for name, rates in rows.items():
        for n, rate in zip(WORKERS, rates, strict=True):
            speedup = rate / rates[0]
            check = ("yes" if speedup >= 0.8 * n else f"no ({0.8 * n:.1f}x)",) if target else ()
            table.add_row(name, str(n), f"{rate:.1f}", f"{speedup:.2f}x", *check)
    return table


def main() -> None:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    load = os.getloadavg()[0]
    ctx = mp.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(queue, stop), daemon=True)
    server.start()
    ray.init(num_cpus=8, object_store_memory=100 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    try:
        base_url = queue.get(timeout=60)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            screenspot = {"local": _screenspot(root, base_url, False), "Ray": _screenspot(root, base_url, True)}
            miniwob = {"local": _miniwob(root, base_url, False), "Ray": _miniwob(root, base_url, True)}
            vllm = _vllm(root)
    finally:
        ray.shutdown()
        stop.set()
        server.join(timeout=10)
    console = Console(width=110)
    console.print(_table(f"ScreenSpot, 1288x728, server latency {LATENCY * 1000:.0f} ms (load {load:.1f}, "
                         f"{os.cpu_count()} CPUs)", "samples/s", screenspot, True))
    console.print(_table(f"MiniWoB++ click-button, 3 steps/episode, server latency {LATENCY * 1000:.0f} ms",
                         "episodes/min", miniwob, False))
    if isinstance(vllm, str):
        console.print(f"ScreenSpot against real vLLM: {vllm}")
    else:
        console.print(_table("ScreenSpot, 1288x728, real vLLM (CPU) with the tiny Qwen2.5-VL, 8 tokens",
                             "samples/s", vllm, True))
    print(json.dumps({"screenspot": screenspot, "miniwob": miniwob, "vllm": vllm}))
    print("MiniWoB++ on 2 cores: each step is a 200 ms model wait plus ~100 ms of Chromium work (input, settle, "
          "screenshot) and the loop's image work; with N browsers the CPU work of all N shares 2 cores, so "
          "episodes/min stop growing once N x (browser CPU per step) fills them — the model latency overlaps, "
          "the browsers' CPU does not.")


if __name__ == "__main__":
    main()
