"""Record a person's demonstration in the browser as a replayable session (``gui-agent record``)."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from rich.console import Console

from agent.errors import ConfigError
from agent.geometry import Size

console = Console(stderr=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="browser", choices=["browser"],
                        help="where to record (browser; desktop recording is not available, see README)")
    parser.add_argument("--url", required=True, help="page to start on")
    parser.add_argument("--out", required=True, help="session directory to write (must not hold a run)")
    parser.add_argument("--instruction", default="", help="what the demonstration does (the model's task when healing)")
    parser.add_argument("--viewport", default="1280x720", help="WxH in CSS px (default 1280x720)")
    parser.add_argument("--device-scale-factor", type=float, default=1.0)
    parser.add_argument("--virtual-display", default=None, metavar="WxH",
                        help="run the headed browser in a private Xvfb of this size (no DISPLAY needed)")


def main(args: argparse.Namespace) -> int:
    from environments.browser import BrowserEnvironment
    from environments.recorder import BrowserRecorder

    try:
        viewport = Size.parse(args.viewport)
    except ValueError as exc:
        raise ConfigError(f"--viewport: {exc}") from None
    if (Path(args.out) / "run.json").exists():
        raise ConfigError(f"{args.out} already holds a recorded session; choose another --out directory")
    virtual = None
    if args.virtual_display:
        import os

        from environments.x11.display import VirtualDisplay

        try:
            virtual = VirtualDisplay(Size.parse(args.virtual_display))
        except ValueError as exc:
            raise ConfigError(f"--virtual-display: {exc}") from None
        os.environ.update(virtual.environ())
    try:
        env = BrowserEnvironment(None, viewport, args.device_scale_factor, headless=False)
        try:
            recorder = BrowserRecorder(env, args.out, args.instruction)
            env.goto(args.url)
            env.url = args.url
            recorder.start()
            stop: list[int] = []  # Ctrl-C or SIGTERM ends the demonstration at the next poll, keeping it
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda number, _frame: stop.append(number))
            console.print(f"recording on {args.url} into {args.out}: act in the browser window; close it or press "
                          "Ctrl-C here to finish", highlight=False)
            recorder.run_until_closed(stop=lambda: bool(stop))
            recorder.finish()
        finally:
            env.close()
    finally:
        if virtual is not None:
            virtual.stop()
    console.print(f"recorded {recorder.steps} steps into {args.out}; replay it with "
                  f"`gui-agent replay {args.out} --live --url {args.url}`", highlight=False)
    return 0
