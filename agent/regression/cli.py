"""``gui-agent replay DIR --live``: the options of a live replay and the command that runs one.

The environment is the recording's own kind (``run.json``), rebuilt from the recording's settings
(URL, viewport, scale factor) unless an option overrides them; the model is built only when a step
drifts, so an unchanged app replays without loading or calling any model. Exit codes: 0 the replay
passed (healed steps included, within ``--max-heals``), 1 it failed, 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from agent.errors import ConfigError
from agent.geometry import Size
from agent.regression.similarity import DEFAULT_TARGET_THRESHOLD, DEFAULT_THRESHOLD


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("live replay (--live)")
    g.add_argument("--live", action="store_true", help="re-execute the session against the live app")
    g.add_argument("--no-heal", action="store_true", help="fail on the first step whose screen drifted")
    g.add_argument("--max-heals", type=int, default=None, metavar="N", help="fail when more than N steps need healing")
    g.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"screen similarity (mean SSIM) a step needs to replay as recorded (default {DEFAULT_THRESHOLD})")
    g.add_argument("--target-threshold", type=float, default=DEFAULT_TARGET_THRESHOLD,
                   help=f"similarity the recorded target's region needs (default {DEFAULT_TARGET_THRESHOLD})")
    g.add_argument("--mask", action="append", default=[], metavar="X0,Y0,X1,Y1",
                   help="ignore this box (input space: CSS px in the browser) when comparing screens (repeatable)")
    g.add_argument("--mask-selector", action="append", default=[], metavar="CSS",
                   help="browser: ignore the elements matching this CSS selector when comparing (repeatable)")
    g.add_argument("--update", action="store_true",
                   help="when the replay passes after healing, write it back as the recording (old one kept as a backup)")
    b = parser.add_argument_group("live environment (default: the recording's)")
    b.add_argument("--url", default=None, help="browser: page to start on (default: the recorded URL)")
    b.add_argument("--viewport", default=None, help="browser: WxH (default: the recorded viewport)")
    b.add_argument("--device-scale-factor", type=float, default=None, help="browser: default the recorded one")
    b.add_argument("--headed", action="store_true", help="browser: show the window (needs DISPLAY)")
    b.add_argument("--display", default=None, help="desktop: X display to replay on (default: $DISPLAY)")
    b.add_argument("--virtual-display", default=None, metavar="WxH",
                   help="desktop: replay in a private Xvfb of this size (default: the recorded one, if any)")
    b.add_argument("--launch", default=None, metavar="CMD",
                   help="desktop: start this program first (default: the recorded one)")


def parse_box(text: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--mask {text!r}: expected four numbers X0,Y0,X1,Y1 (left, top, right, bottom)") from None
    if x1 <= x0 or y1 <= y0:
        raise ConfigError(f"--mask {text!r}: right must exceed left and bottom must exceed top")
    return x0, y0, x1, y1


def live_environment(recorded: Any, args: argparse.Namespace) -> Any:
    """The live environment the recording was made in, with the options' overrides."""
    env = recorded.run.get("environment", {})
    kind = env.get("kind")
    if kind == "desktop":
        return _desktop(env, args)
    if kind != "browser":
        raise ConfigError(f"live replay from the command line supports browser and desktop recordings; this one is "
                          f"{kind!r}. Others: use agent.regression.LiveReplay with your environment in Python")
    from environments.browser import BrowserEnvironment

    url = args.url or env.get("url")
    if not url:
        raise ConfigError("the recording names no URL: pass --url")
    try:
        viewport = Size.parse(args.viewport or env.get("viewport") or "1280x720")
    except ValueError as exc:
        raise ConfigError(f"--viewport: {exc}") from None
    scale = args.device_scale_factor or env.get("device_scale_factor") or 1.0
    return BrowserEnvironment(url, viewport, scale, headless=not args.headed)


def _desktop(recorded: dict[str, Any], args: argparse.Namespace) -> Any:
    import shlex

    from environments.desktop import DesktopEnvironment

    display = getattr(args, "display", None)
    virtual = getattr(args, "virtual_display", None) or (None if display else recorded.get("virtual"))
    launch = getattr(args, "launch", None)
    argv = shlex.split(launch) if launch else recorded.get("launch")
    try:
        size = Size.parse(virtual) if virtual else None
    except ValueError as exc:
        raise ConfigError(f"--virtual-display: {exc}") from None
    return DesktopEnvironment(display, virtual=size, launch=list(argv) if argv else None)


def run_live(args: argparse.Namespace, console: Console) -> int:
    from agent.regression.live import LiveOptions, LiveReplay
    from agent.regression.report import print_report
    from agent.regression.session import update_session
    from agent.trajectory import Trajectory

    source = Path(args.dir)
    try:
        recorded = Trajectory.load(source)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"cannot replay {source}: {exc}") from None
    if args.max_heals is not None and args.max_heals < 0:
        raise ConfigError("--max-heals must be 0 or more")
    options = LiveOptions(heal=not args.no_heal, max_heals=args.max_heals, threshold=args.threshold,
                          target_threshold=args.target_threshold, masks=[parse_box(m) for m in args.mask],
                          mask_selectors=list(args.mask_selector))
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="gui-agent-live-replay-"))

    def model_factory() -> Any:
        from agent.options import build_model

        if not (args.base_url or args.model):
            raise ConfigError("the live screen drifted from the recording and no model is configured to heal it: "
                              "pass --base-url URL --model NAME (or --model DIR), or --no-heal to fail on drift")
        return build_model(args)

    with live_environment(recorded, args) as env:
        report = LiveReplay(recorded, env, out, options, model_factory=model_factory).run()
    if args.update and report.passed and report.heals:
        backup = update_session(source, out)
        report.updated, report.backup = str(source), str(backup)
        report.write()
        console.print(f"[bold]updated[/] {source} with the healed replay; the old recording is at {backup}")
    elif args.update and report.passed:
        console.print("nothing healed: the recording is unchanged")
    print_report(report, console)
    return 0 if report.passed else 1
