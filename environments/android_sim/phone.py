"""`Phone`: the simulated device's whole state and what touches and keys do to it.

Settings live in three namespaces like Android's ``settings`` provider; notes and contacts live in a
small sqlite database (read and written through the ``content`` command, as on a real device);
the back stack holds `Screen`s. Every change bumps ``version`` so the renderer can cache frames.
This is a test device for the code paths of the Android environment, not an emulator.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from agent.geometry import Size
from environments.android_sim.apps import APPS, App
from environments.android_sim.ui import Layout, Node, Screen

DEFAULT_SETTINGS = {
    "global": {"airplane_mode_on": "0", "wifi_on": "1", "bluetooth_on": "0", "device_name": "SimPhone"},
    "system": {"user_rotation": "0", "accelerometer_rotation": "0", "volume_music": "7", "screen_brightness": "128"},
    "secure": {"ui_night_mode": "1", "default_input_method": "com.android.inputmethod.latin/.LatinIME"},
}
DEFAULT_SIZE = Size(1080, 2400)
LATIN_IME = "com.android.inputmethod.latin/.LatinIME"
ADB_IME = "com.android.adbkeyboard/.AdbIME"
SCHEMA = """
CREATE TABLE notes (_id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '');
CREATE TABLE contacts (_id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL DEFAULT '',
                       phone TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '');
"""


class Phone:
    """One simulated device of ``size`` physical pixels (portrait).

    ``wm size WxH`` sets a logical (override) size that touches are given in, while ``screencap`` keeps
    returning physical pixels: the simulator's way to exercise a screenshot/input size mismatch.
    """

    def __init__(self, size: Size = DEFAULT_SIZE, *, density: int = 420, adb_keyboard: bool = False) -> None:
        self.physical, self.density, self.override = size, density, None
        self.lock = threading.RLock()
        self.settings = {ns: dict(values) for ns, values in DEFAULT_SETTINGS.items()}
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        self.apps: dict[str, App] = {app.package: app for app in APPS}
        self.adb_keyboard = adb_keyboard
        self.stack: list[Screen] = [APPS[0].main_screen()]
        self.target: tuple[int, int, int, int] | None = None
        self.last_tap: tuple[float, float] | None = None
        self.files: dict[str, str] = {}
        self.version = 0
        self.props = {
            "ro.product.model": "SimPhone", "ro.product.manufacturer": "qwen-gui-agent",
            "ro.build.version.release": "14", "ro.build.version.sdk": "34", "ro.build.display.id": "SIM.240101.001",
            "ro.serialno": "sim", "ro.sf.lcd_density": str(density),
        }

    # -- geometry -----------------------------------------------------------------------------------
    @property
    def rotation(self) -> int:
        return int(self.settings["system"].get("user_rotation", "0") or 0) % 4

    def _rotated(self, size: Size) -> Size:
        return Size(size.height, size.width) if self.rotation % 2 else size

    @property
    def logical_size(self) -> Size:
        """The input space: the override size if one is set, in the current orientation."""
        return self._rotated(self.override or self.physical)

    @property
    def screen_size(self) -> Size:
        """What ``screencap`` returns: physical pixels in the current orientation."""
        return self._rotated(self.physical)

    @property
    def layout(self) -> Layout:
        size = self.logical_size
        return Layout(size.width, size.height)

    # -- state helpers used by the apps -------------------------------------------------------------
    @property
    def top(self) -> Screen:
        return self.stack[-1]

    @property
    def package(self) -> str:
        return self.top.app

    def launchable(self) -> list[App]:
        return [app for app in self.apps.values() if app.package != "com.sim.launcher"]

    def setting(self, namespace: str, key: str) -> str | None:
        return self.settings.get(namespace, {}).get(key)

    def put_setting(self, namespace: str, key: str, value: str) -> None:
        self.settings.setdefault(namespace, {})[key] = value

    def push(self, screen: Screen) -> None:
        self.stack.append(screen)

    def launch(self, package: str) -> None:
        """Bring the app's main screen up over the launcher (a cold start each time, like force-stop + start)."""
        self.stack = [self.stack[0], self.apps[package].main_screen()]

    def home(self) -> None:
        del self.stack[1:]

    def back(self, force: bool = False) -> None:
        top = self.top
        if not force and "dialog" in top.data:
            top.data.pop("dialog")
        elif not force and top.focus:
            top.data["focus"] = None  # the first Back hides the keyboard
        elif len(self.stack) > 1:
            self.stack.pop()

    def nodes(self) -> list[Node]:
        return self.apps[self.package].nodes(self, self.top, self.layout)

    # -- input --------------------------------------------------------------------------------------
    def tap(self, x: float, y: float) -> None:
        self.last_tap = (x, y)
        self._hit(x, y, lambda n: n.on_tap)

    def long_press(self, x: float, y: float) -> None:
        self.last_tap = (x, y)
        self._hit(x, y, lambda n: n.on_long or n.on_tap)

    def _hit(self, x: float, y: float, handler: Callable[[Node], Callable[[], None] | None]) -> None:
        nodes = self.nodes()
        if any(n.kind == "dialog" for n in nodes):  # a dialog is modal: its buttons, or a tap outside closes it
            buttons = nodes[next(i for i, n in enumerate(nodes) if n.kind == "dialog"):]
            for node in reversed(buttons):
                if node.contains(x, y) and node.on_tap:
                    node.on_tap()
                    return
            if not buttons[0].contains(x, y):
                self.top.data.pop("dialog", None)
            return
        for node in reversed(nodes):
            if node.contains(x, y):
                if node.kind == "keyboard":
                    return
                action = handler(node)
                if action is not None:
                    action()
                    return

    def swipe(self, x1: float, y1: float, x2: float, y2: float, millis: int) -> None:
        if abs(x2 - x1) + abs(y2 - y1) < 10:
            if millis >= 400:
                self.long_press(x1, y1)
            else:
                self.tap(x1, y1)
            return
        if abs(y2 - y1) >= abs(x2 - x1):
            self.nodes()  # lays the list out, which records how far it can scroll
            data = self.top.data
            data["scroll"] = max(0, min(data.get("scroll", 0) - round(y2 - y1), data.get("scroll_max", 0)))

    def type_text(self, text: str) -> bool:
        """Append to the focused field; False when no field has focus (the text goes nowhere)."""
        top = self.top
        if not top.focus:
            return False
        top.fields[top.focus] = top.fields.get(top.focus, "") + text
        if top.focus == "search":
            top.data["scroll"] = 0
        return True

    def key(self, code: int) -> None:
        top = self.top
        if code == KEYCODES["BACK"]:
            self.back()
        elif code == KEYCODES["HOME"]:
            self.home()
        elif code == KEYCODES["ENTER"] and top.focus:
            self.apps[self.package].on_enter(self, top)
        elif code == KEYCODES["DEL"] and top.focus:
            top.fields[top.focus] = top.fields.get(top.focus, "")[:-1]
        elif code in (KEYCODES["VOLUME_UP"], KEYCODES["VOLUME_DOWN"]):
            volume = int(self.settings["system"]["volume_music"]) + (1 if code == KEYCODES["VOLUME_UP"] else -1)
            self.settings["system"]["volume_music"] = str(max(0, min(15, volume)))
        elif code == KEYCODES["SPACE"]:
            self.type_text(" ")
        elif code in _CHAR_KEYS:
            self.type_text(_CHAR_KEYS[code])

    # -- introspection for tests --------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "package": self.package, "screen": self.top.name, "fields": dict(self.top.fields),
            "focus": self.top.focus, "settings": self.settings, "rotation": self.rotation,
            "logical_size": str(self.logical_size), "screen_size": str(self.screen_size),
        }


KEYCODES = {
    "UNKNOWN": 0, "HOME": 3, "BACK": 4, "CALL": 5, "ENDCALL": 6, **{str(d): 7 + d for d in range(10)},
    "STAR": 17, "POUND": 18, "DPAD_UP": 19, "DPAD_DOWN": 20, "DPAD_LEFT": 21, "DPAD_RIGHT": 22, "DPAD_CENTER": 23,
    "VOLUME_UP": 24, "VOLUME_DOWN": 25, "POWER": 26, "CAMERA": 27, "CLEAR": 28,
    **{chr(ord("A") + i): 29 + i for i in range(26)},
    "COMMA": 55, "PERIOD": 56, "TAB": 61, "SPACE": 62, "ENTER": 66, "DEL": 67, "MENU": 82, "SEARCH": 84,
    "MEDIA_PLAY_PAUSE": 85, "PAGE_UP": 92, "PAGE_DOWN": 93, "ESCAPE": 111, "FORWARD_DEL": 112, "MOVE_HOME": 122,
    "MOVE_END": 123, "VOLUME_MUTE": 164, "APP_SWITCH": 187, "WAKEUP": 224, "SLEEP": 223,
}
_CHAR_KEYS = {7 + d: str(d) for d in range(10)} | {29 + i: chr(ord("a") + i) for i in range(26)} | {55: ",", 56: "."}
