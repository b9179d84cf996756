"""`AndroidEnvironment`: a phone or emulator (or the simulated phone) driven over adb.

Observation: ``screencap`` (raw RGBA when the device offers it, PNG otherwise) in physical pixels;
the input space is the display's logical size from ``wm size`` (the override when one is set),
turned to match the screenshot's orientation. Each ``mobile_use`` action becomes one shell line.
"""

from __future__ import annotations

import io
import re
import struct
import time
from typing import Any

from PIL import Image

from agent.errors import ActionValidationError
from agent.geometry import Size
from environments.android import commands
from environments.android.apps import LauncherApp, parse_launcher_activities, resolve_app
from environments.android.device import AdbLink, DeviceUnavailable
from environments.base import Command, EnvironmentBase, Observation, StepResult

LAUNCHER_QUERY = "cmd package query-activities -a android.intent.action.MAIN -c android.intent.category.LAUNCHER"
SWIPE_MILLIS = 300


class AndroidEnvironment(EnvironmentBase):
    """``capture``: "auto" (raw, falling back to PNG), "raw" or "png". ``settle``: seconds to let the
    UI react after each action before the next screenshot (animations on real devices)."""

    tool = "mobile_use"

    def __init__(self, serial: str | None = None, host: str | None = None, port: int | None = None, *,
                 capture: str = "png", settle: float = 0.3, retry_seconds: float = 15.0,
                 link: AdbLink | None = None) -> None:
        if capture not in ("auto", "raw", "png"):
            raise ValueError(f"capture must be auto, raw or png, got {capture!r}")
        self.link = link or AdbLink(serial, host, port, retry_seconds=retry_seconds)
        self.capture, self.settle = capture, settle
        self._natural: Size | None = None  # logical size in the display's natural orientation
        self._rotation: tuple[bool, int | None] | None = None  # (landscape screenshot, rotation 0-3) last read
        self._apps: tuple[list[LauncherApp], list[str]] | None = None

    @property
    def serial(self) -> str:
        return self.link.serial

    def shell(self, command: str, **kwargs: Any) -> Any:
        """Run a shell line on the device (tasks use this to set up and check state)."""
        return self.link.shell(command, **kwargs)

    # -- observation ---------------------------------------------------------------------------------
    def reset(self) -> Observation:
        self._natural, self._rotation = None, None
        return self.observe()

    def observe(self) -> Observation:
        t0 = time.perf_counter()
        data = self.link.shell("screencap" if self.capture != "png" else "screencap -p", binary=True)
        t1 = time.perf_counter()
        image = self._decode(data)
        t2 = time.perf_counter()
        input_size = self.input_size(Size(*image.size))
        landscape = image.width > image.height
        if self._rotation is None or self._rotation[0] != landscape:  # read again only when it turned
            self._rotation = (landscape, self.rotation())
        info = {"serial": self.serial, "orientation": "landscape" if landscape else "portrait",
                "rotation": self._rotation[1], "capture": self.capture, "timings": {"screencap": round(t1 - t0, 6), "decode": round(t2 - t1, 6)}}
        return Observation(image, input_size, info=info)

    def _decode(self, data: bytes) -> Image.Image:
        if self.capture != "png" and not data.startswith(b"\x89PNG"):
            image = _decode_raw(data)
            if image is not None:
                self.capture = "raw" if self.capture == "auto" else self.capture
                return image
            if self.capture == "raw":
                raise DeviceUnavailable(f"raw screencap output of {len(data)} bytes could not be read; use --adb-capture png")
            self.capture = "png"
            data = self.link.shell("screencap -p", binary=True)
        try:
            with Image.open(io.BytesIO(data)) as image:
                return image.convert("RGB")
        except OSError as exc:
            raise DeviceUnavailable(f"screencap returned no image ({len(data)} bytes: {data[:80]!r})") from exc

    def input_size(self, screenshot: Size) -> Size:
        """The logical display size (``wm size`` override, else physical) in the screenshot's orientation."""
        if self._natural is None:
            text = self.link.shell("wm size")
            sizes = dict(re.findall(r"(Physical|Override) size:\s*(\d+x\d+)", text))
            if not sizes:
                raise DeviceUnavailable(f"`wm size` gave no size: {text!r}")
            self._natural = Size.parse(sizes.get("Override", sizes["Physical"]))
        n = self._natural
        if (screenshot.width > screenshot.height) != (n.width > n.height):
            return Size(n.height, n.width)
        return n

    def rotation(self) -> int | None:
        """The display's rotation in quarter turns (``dumpsys input``'s SurfaceOrientation), None if unknown."""
        match = re.search(r"SurfaceOrientation:\s*(\d)", self.link.shell("dumpsys input"))
        return int(match.group(1)) if match else None

    # -- actions -------------------------------------------------------------------------------------
    def execute(self, command: Command) -> StepResult:
        action, name = command.action, command.name
        line, info = self._command_line(command)
        output = self.link.shell(line)
        if output.strip() and name in ("key", "open") and re.search(r"(?i)error|exception|unknown", output):
            raise ActionValidationError(f"the device refused {name} {action.text!r}: {output.strip()[:300]}")
        if self.settle:
            time.sleep(self.settle)
        return StepResult(info={"shell": line, **info})

    def _command_line(self, command: Command) -> tuple[str, dict[str, Any]]:
        action, name = command.action, command.name
        if name == "click":
            return commands.tap(*command.point.pixel()), {}
        if name == "long_press":
            x, y = command.point.pixel()
            return commands.swipe(x, y, x, y, round(action.time * 1000)), {}
        if name == "swipe":
            return commands.swipe(*command.point.pixel(), *command.end.pixel(), SWIPE_MILLIS), {}
        if name == "key":
            return commands.key(commands.keycode(action.text)), {}
        if name == "system_button":
            return commands.key(commands.SYSTEM_BUTTONS[action.button]), {}
        if name == "type":
            return self._type_line(action.text), {}
        if name == "open":
            app = self.resolve_app(action.text)
            return commands.launch(app.package, app.activity), {"package": app.package}
        raise ActionValidationError(f"action {name!r} is not available on an Android device")

    def _type_line(self, text: str) -> str:
        if text.isascii():
            return commands.type_ascii(text) if text else "true"
        if commands.ADB_IME not in self.link.shell("ime list -s").split():
            raise ActionValidationError(
                "this device can only type ASCII text (its `input text` command cannot type characters such as "
                f"{next(c for c in text if not c.isascii())!r}, and the ADB Keyboard IME is not installed); "
                "type the text in ASCII or with the on-screen keyboard")
        previous = self.link.shell("settings get secure default_input_method").strip()
        restore = f"; ime set {previous}" if previous and previous != "null" and previous != commands.ADB_IME else ""
        return f"ime enable {commands.ADB_IME}; ime set {commands.ADB_IME}; {commands.type_unicode(text)}{restore}"

    def resolve_app(self, name: str) -> LauncherApp:
        for fresh in (False, True):
            if self._apps is None or fresh:
                launcher = parse_launcher_activities(self.link.shell(LAUNCHER_QUERY))
                installed = [line.removeprefix("package:").strip()
                             for line in self.link.shell("pm list packages").splitlines() if line.startswith("package:")]
                self._apps = (launcher, installed)
            try:
                return resolve_app(name, *self._apps)
            except ActionValidationError:
                if fresh:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def foreground_package(self) -> str | None:
        """The package of the focused window (``dumpsys window``), None when the device does not say."""
        match = re.search(r"mCurrentFocus=Window\{\S+ \S+ ([\w.]+)/", self.link.shell("dumpsys window"))
        return match.group(1) if match else None

    def go_home(self) -> None:
        """Press Home: the way out of an app the agent must not use."""
        self.link.shell(commands.key(commands.SYSTEM_BUTTONS["Home"]))

    def describe(self) -> dict[str, Any]:
        return {"kind": "android", **self.link.describe(), "capture": self.capture, "settle": self.settle,
                "logical_size": str(self._natural) if self._natural else None}


def _decode_raw(data: bytes) -> Image.Image | None:
    """``screencap`` without -p: (w, h, format[, colour space]) little-endian, then RGBA_8888 rows."""
    if len(data) < 12:
        return None
    width, height, fmt = struct.unpack_from("<3I", data)
    header = len(data) - width * height * 4
    if fmt != 1 or header not in (12, 16) or not (0 < width < 20000 and 0 < height < 20000):
        return None
    return Image.frombuffer("RGBA", (width, height), memoryview(data)[header:], "raw", "RGBA", 0, 1).convert("RGB")
