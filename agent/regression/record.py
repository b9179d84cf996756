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
    parser.add_argument("--env", default="browser", choices=["browser", "desktop"],
                        help="where to record: browser (default) or desktop (X11, through XRecord)")
    parser.add_argument("--url", default=None, help="browser: page to start on")
    parser.add_argument("--display", default=None, help="desktop: X display to record on (default: $DISPLAY)")
    parser.add_argument("--launch", default=None, metavar="CMD", help="desktop: start this program first")
    parser.add_argument("--out", required=True, help="session directory to write (must not hold a run)")
    parser.add_argument("--instruction", default="", help="what the demonstration does (the model's task when healing; default none)")
    parser.add_argument("--viewport", default="1280x720", help="WxH in CSS px (default 1280x720)")
    parser.add_argument("--device-scale-factor", type=float, default=1.0, help="browser device pixel ratio (default 1)")
    parser.add_argument("--virtual-display", default=None, metavar="WxH",
                        help="run in a private Xvfb of this size (the headed browser, or the desktop to record)")


def main(args: argparse.Namespace) -> int:
    from environments.browser import BrowserEnvironment
    from environments.recorder import recording

    if args.env == "desktop":
        return _desktop(args)
    if not args.url:
        raise ConfigError("--env browser needs --url URL: the page to start on")
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
        with recording(env, args.out, args.url, args.instruction) as recorder:
            stop: list[int] = []  # Ctrl-C or SIGTERM ends the demonstration at the next poll, keeping it
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda number, _frame: stop.append(number))
            console.print(f"recording on {args.url} into {args.out}: act in the browser window; close it or press "
                          "Ctrl-C here to finish", highlight=False)
            recorder.run_until_closed(stop=lambda: bool(stop))
    finally:
        if virtual is not None:
            virtual.stop()
    console.print(f"recorded {recorder.steps} steps into {args.out}; replay it with "
                  f"`gui-agent replay {args.out} --live --url {args.url}`", highlight=False)
    return 0


def _desktop(args: argparse.Namespace) -> int:
    import shlex
    import time

    from environments.desktop import DesktopEnvironment
    from environments.x11.recorder import DesktopRecorder

    if (Path(args.out) / "run.json").exists():
        raise ConfigError(f"{args.out} already holds a recorded session; choose another --out directory")
    try:
        virtual = Size.parse(args.virtual_display) if args.virtual_display else None
    except ValueError as exc:
        raise ConfigError(f"--virtual-display: {exc}") from None
    stop: list[int] = []
    with DesktopEnvironment(args.display, virtual=virtual,
                            launch=shlex.split(args.launch) if args.launch else None) as env:
        env.reset()
        recorder = DesktopRecorder(env, args.out, args.instruction)
        recorder.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda number, _frame: stop.append(number))
        console.print(f"recording input on display {env.display_name} into {args.out}: press Ctrl-C here to finish",
                      highlight=False)
        while not stop:
            time.sleep(0.1)  # a person's pace; each poll waits for the input it reports to settle on screen
            recorder.poll()
        recorder.finish()
    console.print(f"recorded {recorder.steps} steps into {args.out}; replay it with "
                  f"`gui-agent replay {args.out} --live`", highlight=False)
    return 0
