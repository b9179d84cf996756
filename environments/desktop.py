"""The X11 desktop: mss captures the screen, pyautogui drives mouse and keys, `Typist` types text.

Three spaces stay apart: the screenshot (mss pixels of one monitor), the input space (X11 root-window
pixels, the same unless a HiDPI setup scales them; the ratio is measured at reset) and the model's
(the loop resizes). Observation.origin is the monitor's left/top, so multi-monitor clicks land on the
monitor that was captured.

Capture is incremental (`environments.x11.capture`): the X server's DAMAGE extension says which
rectangles were drawn since the last observation, only those are grabbed and pasted onto the last
screenshot, and they are reported as `Observation.damage` so the loop resizes and the trajectory
encodes only them; DAMAGE is checked against a full grab now and then. Instead of pyautogui's 100 ms
pause after every call, `observe` waits until nothing has been drawn for a quiet interval (bounded by
``settle_timeout``). Without DAMAGE (or with ``track_damage=False``) every observation is a full grab
and settling compares full grabs.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shlex
import signal
import subprocess
import time
from typing import Any

from agent.errors import ConfigError, EnvironmentFailure, GuiAgentError
from agent.geometry import Size
from environments.base import Command, EnvironmentBase, Observation, StepResult, next_frame
from environments.x11.display import VirtualDisplay, connect, resolve_display

log = logging.getLogger(__name__)

SCROLL_PIXELS_PER_CLICK = 50  # one wheel click ≈ 3 text lines ≈ 50 px in GTK/Qt/Chromium on X11
DRAG_STEPS = 8  # motion events between press and release, for apps with a drag threshold
CLICKS = {"left_click": "left", "right_click": "right", "middle_click": "middle"}
POINTER_ACTIONS = {*CLICKS, "double_click", "mouse_move", "scroll"}


def pick_monitor(monitors: list[dict], index: int | None) -> tuple[int, dict]:
    """mss's monitor ``index`` (0 = the whole virtual screen), or by default the primary, else the first."""
    if index is None:
        primary = [i for i, m in enumerate(monitors) if i > 0 and m.get("is_primary")]
        index = primary[0] if primary else (1 if len(monitors) > 1 else 0)
    if not 0 <= index < len(monitors):
        listed = ", ".join(f"{i}: {m['width']}x{m['height']}+{m['left']}+{m['top']}" for i, m in enumerate(monitors))
        raise ConfigError(f"--monitor {index} does not exist; this display has monitors {listed} (0 = all of them)")
    return index, monitors[index]


class DesktopEnvironment(EnvironmentBase):
    """An X11 display as an environment. ``display=None`` uses $DISPLAY; ``virtual=Size`` starts an Xvfb.

    ``launch`` (an argv) starts a program on the display first, waits until the
    screen shows something new, and stops it (its process group) on close. ``track_damage=False``
    grabs the whole screen at every observation (``--full-frames``).
    """

    tool = "computer_use"

    def __init__(
        self,
        display: str | None = None,
        *,
        virtual: Size | None = None,
        monitor: int | None = None,
        settle_quiet: float = 0.03,
        settle_timeout: float = 2.0,
        launch: list[str] | None = None,
        launch_timeout: float = 20.0,
        track_damage: bool = True,
    ) -> None:
        self._broken = False
        self.capture = None  # a DamageCapture while DAMAGE is tracked
        self._track_damage = track_damage
        self.damage_missed: list[int] | None = None  # where a check found drawing DAMAGE did not report
        self.app: subprocess.Popen | None = None
        self.virtual = VirtualDisplay(virtual) if virtual else None
        saved = {k: os.environ.get(k) for k in ("DISPLAY", "XAUTHORITY")}
        try:
            self.display_name = self.virtual.name if self.virtual else resolve_display(display)
            self._connect(monitor)
            self.settle_quiet, self.settle_timeout = settle_quiet, settle_timeout
            if launch:
                self._launch(launch, launch_timeout)
        except BaseException:
            self.close()
            raise
        finally:  # leave the process as we found it: the connections are made, children get env.environ()
            _restore_environ(saved)
        self._dirty = bool(launch)
        self._last: Observation | None = None  # the last observation: its screenshot is the base for the next

    def _connect(self, monitor: int | None) -> None:
        import mss

        if self.virtual:
            os.environ.update(self.virtual.environ())  # connect() and pyautogui's import read them
        self.xdisplay = connect(self.display_name)
        os.environ["DISPLAY"] = self.display_name
        self.gui = _pyautogui(self.xdisplay)
        self._batched = _Batched(self.xdisplay)
        from environments.x11.keyboard import Typist

        self.typist = Typist(self.xdisplay, settle=lambda: self._settled_grab(quiet=0.1))
        self.sct = mss.MSS(display=self.display_name)
        self.monitor_index, self.monitor = pick_monitor(self.sct.monitors, monitor)
        self._measure()
        if self._track_damage:
            from environments.x11.capture import DamageCapture
            from environments.x11.damage import DamageTracker

            tracker = DamageTracker(connect(self.display_name))  # its own connection: its events only
            if tracker.available:
                self.capture = DamageCapture(self.sct, self.monitor, tracker)
            else:
                tracker.close()

    def _launch(self, argv: list[str], timeout: float) -> None:
        """Start ``argv`` on this display (no shell) and wait until the screen changes: its window is up."""
        before = self.sct.grab(self.monitor).raw
        environ = os.environ | {"DISPLAY": self.display_name}
        if self.virtual:
            environ |= self.virtual.environ()
        try:
            self.app = subprocess.Popen(argv, env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        start_new_session=True)
        except OSError as exc:
            raise ConfigError(f"--launch {shlex.join(argv)}: cannot start it ({exc.strerror or exc})") from None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.app.poll() not in (None, 0):
                raise ConfigError(f"--launch {shlex.join(argv)} exited with code {self.app.returncode} before "
                                  "showing anything; run it by hand on the display to see why")
            if self.sct.grab(self.monitor).raw != before:
                return
            time.sleep(0.05)

    def _measure(self) -> None:
        root = self.xdisplay.screen()
        self.input_size, self.origin, self.scale = input_space(
            self.monitor, self.sct.monitors[0], Size(root.width_in_pixels, root.height_in_pixels)
        )
        if getattr(self, "capture", None) is not None:
            self.capture.monitor = self.monitor

    # -- Environment ----------------------------------------------------------------------------------
    def reset(self) -> Observation:
        self._measure()  # the input/screenshot ratio, in case the screen was reconfigured
        self._last = None  # a new episode starts from a full grab
        return self.observe()

    def observe(self) -> Observation:
        from environments.x11.capture import rgb

        with self._x_server("capturing the screen"):
            last, self._last, capture = self._last, None, self.capture
            if capture is not None and last is not None and self.scale == (1.0, 1.0) \
                    and last.screenshot.size == (self.monitor["width"], self.monitor["height"]):
                drawn = capture.settled(self.settle_quiet, self.settle_timeout) if self._dirty \
                    else capture.tracker.collect()
                image, damage = capture.next(last, drawn)
                missed = capture.missed
                if missed is not None:
                    self._stop_tracking(missed)
            else:
                missed = None
                if capture is not None:
                    capture.restart()
                image, damage = rgb(self._settled_grab() if self._dirty else self.sct.grab(self.monitor)), None
            x, y = self._pointer()
        self._dirty = False
        info = {"display": self.display_name, "monitor": self.monitor_index, "cursor": [x, y]}
        if missed is not None:
            info["damage_missed"] = missed  # in the trajectory: from this step on, full grabs
        self._last = Observation(image, self.input_size, self.origin, info, frame=next_frame(), damage=damage)
        return self._last

    def _stop_tracking(self, missed: list[int]) -> None:
        self.damage_missed = missed
        log.warning("the X server did not report drawing in %s (monitor pixels); DAMAGE is unreliable on display "
                    "%s, so every step now grabs the whole screen", missed, self.display_name)
        self.capture.close()
        self.capture = None

    def input_happened(self) -> None:
        """Input from elsewhere (a person being recorded) reached the display: the next observe settles first."""
        self._dirty = True

    def pause(self, seconds: float) -> None:
        """The framework's ``wait``; the next observation waits for the screen to be quiet again."""
        time.sleep(seconds)
        self._dirty = True

    def execute(self, command: Command) -> StepResult:
        name = command.name
        with self._x_server(f"executing {name}"):
            self._carry_out(command)
            self.xdisplay.sync()  # one round trip: the server has taken every event of the action
        self._dirty = True
        return StepResult()

    def _carry_out(self, command: Command) -> None:
        """Drive pyautogui's X11 backend. Its public functions add a pointer query and a sleep(0) per call
        that a caller without tweening, pause or fail-safe does not need; the backend syncs after every
        event, which the batched display defers to one round trip in `execute`."""
        x11, name = self.gui._pyautogui_x11, command.name
        x11._display = self._batched  # process-wide: another environment may have re-pointed it
        xy = command.point.pixel() if command.point is not None else None
        if xy is None and name in POINTER_ACTIONS:
            xy = self._pointer()  # "click without coordinate": where the pointer is
        if name in CLICKS or name == "double_click":
            x11._moveTo(*xy)
            for _ in range(2 if name == "double_click" else 1):
                x11._click(*xy, CLICKS.get(name, "left"))
        elif name == "mouse_move":
            x11._moveTo(*xy)
        elif name == "left_click_drag":
            self._drag(xy)
        elif name == "scroll":
            x11._moveTo(*xy)
            x11._vscroll(wheel_clicks(command.scroll_pixels or 0), *xy)
        elif name == "type":
            self.typist.type(command.action.text)
        elif name == "key":
            from environments.x11.keyboard import key_names

            names = key_names(command.action.keys, x11.keyboardMapping)
            for key in names:
                x11._keyDown(key)
            for key in reversed(names):
                x11._keyUp(key)
        else:
            from agent.errors import ActionValidationError

            raise ActionValidationError(f"action {name!r} is not available on the desktop")

    def _drag(self, end: tuple[int, int]) -> None:
        """Press at the cursor, move in steps (apps ignore one big jump), release at ``end``."""
        x11 = self.gui._pyautogui_x11
        x0, y0 = self._pointer()
        x11._mouseDown(x0, y0, "left")
        for i in range(1, DRAG_STEPS + 1):
            x11._moveTo(round(x0 + (end[0] - x0) * i / DRAG_STEPS), round(y0 + (end[1] - y0) * i / DRAG_STEPS))
        x11._mouseUp(*end, "left")

    def close(self) -> None:
        # python-xlib hangs on a connection that has failed once, so a broken one is only dropped
        steps = [lambda: self.sct.close(), lambda: self.xdisplay.display.socket.close(),
                 lambda: self.capture.tracker.xdisplay.display.socket.close()]
        if not getattr(self, "_broken", True):
            steps = [lambda: self.typist.restore(), lambda: self.sct.close(), lambda: self.xdisplay.close(),
                     lambda: self.capture.close()]
        for step in steps:
            with contextlib.suppress(Exception):  # closing a display that is already gone
                step()
        if getattr(self, "app", None) is not None and self.app.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.app.pid, signal.SIGTERM)  # its own session: the program and its children
            try:
                self.app.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.app.pid, signal.SIGKILL)
                self.app.wait()
        if getattr(self, "virtual", None):
            self.virtual.stop()
            self.virtual = None

    def describe(self) -> dict[str, Any]:
        m = self.monitor
        return {
            "kind": "desktop",
            "display": self.display_name,
            "virtual": str(self.virtual.size) if self.virtual else None,
            "monitor": self.monitor_index,
            "monitor_geometry": [m["left"], m["top"], m["width"], m["height"]],
            "input_size": str(self.input_size),
            "scale": list(self.scale),
            "launch": self.app.args if self.app is not None else None,
            "scroll_pixels_per_click": SCROLL_PIXELS_PER_CLICK,
            "damage_tracking": self.capture is not None,
            "damage_missed": self.damage_missed,
        }

    # -- screen ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _x_server(self, doing: str):
        """Any failure talking to X ends the episode as an environment error, and stays failed."""
        if self._broken:
            raise EnvironmentFailure(f"the X display {self.display_name} failed earlier in this session")
        try:
            yield
        except GuiAgentError:
            raise
        except Exception as exc:  # mss.ScreenShotError, Xlib errors, broken pipes (python-xlib wraps some oddly)
            self._broken = True
            alive = "" if self.virtual is None or self.virtual.process.poll() is None else " (its Xvfb exited)"
            raise EnvironmentFailure(f"{doing} on X display {self.display_name} failed{alive}: {exc!r}") from exc

    def _grab(self):
        with self._x_server("capturing the screen"):
            return self.sct.grab(self.monitor)

    def _settled_grab(self, quiet: float | None = None):
        """Grab until two grabs ``quiet`` (default ``settle_quiet``) apart agree, or ``settle_timeout`` passes."""
        deadline = time.monotonic() + self.settle_timeout
        shot = self.sct.grab(self.monitor)
        while time.monotonic() < deadline:
            time.sleep(self.settle_quiet if quiet is None else quiet)
            again = self.sct.grab(self.monitor)
            if again.raw == shot.raw:
                return again
            shot = again
        return shot

    def _pointer(self) -> tuple[int, int]:
        data = self.xdisplay.screen().root.query_pointer()
        return data.root_x, data.root_y


def _restore_environ(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def input_space(monitor: dict, whole: dict, root: Size) -> tuple[Size, tuple[int, int], tuple[float, float]]:
    """The monitor in input space: its size, its origin (left/top) and the input/screenshot ratio.

    The ratio is the X root window's size over the captured whole screen's: 1.0 on plain X11, other
    values when the capture is scaled relative to input (HiDPI setups, scaled remote displays).
    """
    scale = (root.width / whole["width"], root.height / whole["height"])
    size = Size(round(monitor["width"] * scale[0]), round(monitor["height"] * scale[1]))
    return size, (round(monitor["left"] * scale[0]), round(monitor["top"] * scale[1])), scale


def wheel_clicks(pixels: float) -> int:
    """Scroll pixels (positive = up) as wheel clicks, at least one click for any non-zero amount."""
    if not pixels:
        return 0
    return int(math.copysign(max(1, round(abs(pixels) / SCROLL_PIXELS_PER_CLICK)), pixels))


class _Batched:
    """``xdisplay`` whose `sync` does nothing: events queue up in order and go out with the next request
    that needs a reply, or the caller's own sync."""

    def __init__(self, xdisplay) -> None:
        self._xdisplay = xdisplay

    def sync(self) -> None:
        pass

    def __getattr__(self, name: str):
        return getattr(self._xdisplay, name)


def _pyautogui(xdisplay):
    """pyautogui bound to ``xdisplay``, with its 100 ms pause and corner fail-safe off.

    pyautogui opens its own connection to $DISPLAY on first import; a later environment on another
    display re-points it (the keycodes it computed are those of the standard keymap every Xvfb shares).
    """
    try:
        import pyautogui
    except Exception as exc:  # XauthError / DisplayConnectionError from its import-time connection
        raise ConfigError(f"pyautogui cannot connect to the X display: {exc!r}. Check DISPLAY and XAUTHORITY.") from None
    pyautogui.PAUSE = 0
    pyautogui.FAILSAFE = False  # the model may legitimately click a corner; stop a run with Ctrl-C
    pyautogui.MINIMUM_DURATION = 0
    pyautogui._pyautogui_x11._display = xdisplay
    return pyautogui


# -- CLI ------------------------------------------------------------------------------------------------
def add_arguments(group) -> None:
    group.add_argument("--display", default=None, help="X display to attach to, e.g. :0 (default: $DISPLAY)")
    group.add_argument("--virtual-display", default=None, metavar="WxH",
                       help="start a private Xvfb of this size for the run (headless machines, CI)")
    group.add_argument("--monitor", type=int, default=None,
                       help="monitor to capture and act on: 1, 2, ... (default: the primary, else the first); "
                            "0 = the whole virtual screen")
    group.add_argument("--launch", default=None, metavar="CMD",
                       help="program to start on the display first, e.g. 'xterm' (split like a shell, not run by "
                            "one); the run waits for its window and stops it at the end")
    group.add_argument("--full-frames", action="store_true",
                       help="grab the whole screen every step instead of only what the X DAMAGE extension "
                            "reports as drawn (for X servers whose DAMAGE misses drawing; checked every "
                            "20 steps and switched off automatically when it does)")


def from_args(args) -> DesktopEnvironment:
    if args.virtual_display and args.display:
        raise ConfigError("use either --virtual-display WxH (a private Xvfb) or --display :N (a running server)")
    try:
        virtual = Size.parse(args.virtual_display) if args.virtual_display else None
    except ValueError as exc:
        raise ConfigError(f"--virtual-display: {exc}") from None
    try:
        launch = shlex.split(args.launch) if args.launch else None
    except ValueError as exc:
        raise ConfigError(f"--launch: {exc}") from None
    return DesktopEnvironment(args.display, virtual=virtual, monitor=args.monitor, launch=launch,
                              track_damage=not args.full_frames)
