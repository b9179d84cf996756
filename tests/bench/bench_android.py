"""Android environment overhead over a bare ``screencap`` of the same simulated device, same run.

Baseline: one adb smart-socket request ``shell:screencap -p`` read to the end, nothing else (the
least any client can do). Environment: ``observe()`` (adbutils link, screencap, decode to RGB, input
size) and ``execute()`` of a tap. Frames are rendered before timing, so both sides read the same
cached frame and the simulator's drawing cost is left out. Medians over N rounds.
"""

from __future__ import annotations

import socket
import statistics
import time

from rich.console import Console
from rich.table import Table

from agent.geometry import ScreenPoint, Size
from environments.android.env import AndroidEnvironment
from environments.android_sim import AdbSimServer, Phone
from environments.base import Command
from tools import get_tool

ROUNDS = 15


def bare_screencap(port: int, serial: str, command: str = "screencap -p") -> bytes:
    """The minimal client: tport to the device, run the command, read until close."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        for request in (f"host:tport:serial:{serial}", f"shell:{command}"):
            s.sendall(f"{len(request):04x}{request}".encode())
            assert s.recv(4) == b"OKAY"
            if request.startswith("host:tport"):
                s.recv(8)
        chunks = []
        while chunk := s.recv(1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def measure(server: AdbSimServer, serial: str, capture: str) -> dict[str, float]:
    click = get_tool("mobile_use").validate({"action": "click", "coordinate": [1, 1]})
    timings: dict[str, list[float]] = {k: [] for k in ("bare", "observe", "screencap", "decode", "execute")}
    with AndroidEnvironment(serial, port=server.port, capture=capture, settle=0) as env:
        env.reset()
        for _ in range(ROUNDS):
            t = time.perf_counter()
            env.execute(Command(click, ScreenPoint(5, 700)))  # empty space: a real tap, the screen stays put
            timings["execute"].append(time.perf_counter() - t)
            bare_screencap(server.port, serial, "screencap -p" if capture == "png" else "screencap")  # render, cache
            t = time.perf_counter()
            bare_screencap(server.port, serial, "screencap -p" if capture == "png" else "screencap")
            timings["bare"].append(time.perf_counter() - t)
            t = time.perf_counter()
            obs = env.observe()
            timings["observe"].append(time.perf_counter() - t)
            timings["screencap"].append(obs.info["timings"]["screencap"])
            timings["decode"].append(obs.info["timings"]["decode"])
    return {k: ms(v) for k, v in timings.items()}


def main() -> None:
    table = Table(title=f"Android environment vs bare screencap (simulated phone, median of {ROUNDS})")
    for column in ("screen", "capture", "bare screencap ms", "env screencap ms", "decode ms", "observe ms",
                   "execute (tap) ms", "overhead ms", "observe / bare"):
        table.add_column(column, justify="right")
    with AdbSimServer() as server:
        for size in (Size(1080, 2400), Size(720, 1280)):
            serial = f"sim-{size}"
            server.add(serial, Phone(size))
            for capture in ("png", "raw"):
                r = measure(server, serial, capture)
                table.add_row(str(size), capture, f"{r['bare']:.1f}", f"{r['screencap']:.1f}", f"{r['decode']:.1f}",
                              f"{r['observe']:.1f}", f"{r['execute']:.1f}", f"{r['observe'] - r['bare']:.1f}",
                              f"{r['observe'] / r['bare']:.2f}x")
    Console(width=150).print(table)
    print("overhead = observe - bare screencap; observe includes the transfer, decoding to RGB and the input size.")


if __name__ == "__main__":
    main()
