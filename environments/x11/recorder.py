"""Record by demonstration on an X11 desktop: XRecord sees a person's input without grabbing it.

`DesktopRecorder` opens its own connection to the display of a `DesktopEnvironment` and enables an
XRecord context on every client's device events (key presses, button presses and releases); a thread
turns them into the recorder's events (``environments.recorder``), so a desktop demonstration is written
in the same trajectory format as a model's run and replays with the same machinery. Screenshots come
from the environment (after its DAMAGE settle). Keys are read through the keymap at the time they
are seen; double clicks are two left clicks within ``DOUBLE_CLICK_MS`` at the same place.

Limits: the X server must offer RECORD (Xvfb and Xorg do by default); there is no element under the
pointer to record (a drifted step is compared around its point); input methods (IME) and
per-application keymaps are not seen; a drag is its press and release points (the path is not kept).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from agent.errors import ConfigError
from environments.recorder import DemonstrationRecorder
from environments.x11.display import connect

DOUBLE_CLICK_MS = 400
WHEEL_PX = 50  # the desktop environment scrolls 50 px per wheel click
_NAMES = {"Return": "Enter", "KP_Enter": "Enter", "BackSpace": "Backspace", "Escape": "Escape", "Tab": "Tab",
          "ISO_Left_Tab": "Tab", "Delete": "Delete", "Up": "ArrowUp", "Down": "ArrowDown", "Left": "ArrowLeft",
          "Right": "ArrowRight", "Prior": "PageUp", "Next": "PageDown", "Home": "Home", "End": "End",
          "Insert": "Insert", "Menu": "ContextMenu"}
_MODIFIER_KEYS = {"Shift_L", "Shift_R", "Control_L", "Control_R", "Alt_L", "Alt_R", "Meta_L", "Meta_R",
                  "Super_L", "Super_R", "Caps_Lock", "ISO_Level3_Shift", "Num_Lock", "Hyper_L", "Hyper_R"}
SHIFT, CONTROL, ALT, SUPER = 1, 4, 8, 64


class DesktopRecorder(DemonstrationRecorder):
    """Records a person's input on ``env``'s display (a `DesktopEnvironment`); ``start``, ``poll``, ``finish``."""

    def __init__(self, env: Any, out: Any, instruction: str = "", **options: Any) -> None:
        super().__init__(env, out, instruction or f"Repeat the demonstration recorded on {env.display_name}", **options)
        from Xlib import XK, X
        from Xlib.ext import record

        self._X, self._record = X, record
        self._keysyms = {getattr(XK, n): n[3:] for n in dir(XK) if n.startswith("XK_")}
        self._keysym_to_string = XK.keysym_to_string
        self._control = _connect(env)  # keymap look-ups and disabling the context
        self._data = _connect(env)  # record_enable_context blocks on this one
        if not self._data.has_extension("RECORD"):
            self.close()
            raise ConfigError(f"the X server on {env.display_name} has no RECORD extension: desktop recording needs "
                              "it (Xvfb and Xorg load it by default; check the server's -extension options)")
        self._context = self._data.record_create_context(0, [record.AllClients], [{
            "core_requests": (0, 0), "core_replies": (0, 0), "ext_requests": (0, 0, 0, 0),
            "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
            "device_events": (X.KeyPress, X.ButtonRelease), "errors": (0, 0),
            "client_started": False, "client_died": False,
        }])
        self._down: dict[int, tuple[int, int]] = {}
        self._last_click: tuple[int, int, int] | None = None  # time, x, y of the last left click
        self._seen = 0
        self._thread = threading.Thread(target=self._listen, name="xrecord", daemon=True)
        self._thread.start()

    # -- the XRecord thread -----------------------------------------------------------------------------
    def _listen(self) -> None:
        self._data.record_enable_context(self._context, self._reply)  # returns once the context is disabled

    def _reply(self, reply: Any) -> None:
        from Xlib.protocol import rq

        if reply.category != self._record.FromServer or reply.client_swapped or not reply.data or reply.data[0] < 2:
            return
        data = reply.data
        while data:
            event, data = rq.EventField(None).parse_binary_value(data, self._data.display, None, None)
            self._x_event(event)
            self._seen += 1

    def _x_event(self, e: Any) -> None:
        X = self._X
        if e.type == X.ButtonPress:
            if e.detail in (4, 5):  # the wheel: up, down
                self.events.append({"type": "wheel", "x": e.root_x, "y": e.root_y, "t": e.time,
                                    "dy": -WHEEL_PX if e.detail == 4 else WHEEL_PX})
            else:
                self._down[e.detail] = (e.root_x, e.root_y)
        elif e.type == X.ButtonRelease and e.detail in self._down:
            x, y = self._down.pop(e.detail)
            detail = 1
            if e.detail == 1:
                last = self._last_click
                if last and e.time - last[0] <= DOUBLE_CLICK_MS and abs(last[1] - x) + abs(last[2] - y) <= 4:
                    detail = 2
                self._last_click = None if detail == 2 else (e.time, x, y)
            button = {1: 0, 2: 1, 3: 2}.get(e.detail)
            if button is not None:
                self.events.append({"type": "pointer", "button": button, "x": x, "y": y, "x2": e.root_x,
                                    "y2": e.root_y, "detail": detail, "hit": None})
        elif e.type == X.KeyPress:
            shift = bool(e.state & SHIFT)
            keysym = self._control.keycode_to_keysym(e.detail, 1 if shift else 0) or \
                self._control.keycode_to_keysym(e.detail, 0)
            name = self._keysyms.get(keysym, "")
            if name in _MODIFIER_KEYS or not keysym:
                return
            char = self._keysym_to_string(keysym)
            key = char if char and len(char) == 1 and char.isprintable() else _NAMES.get(name, name)
            self.events.append({"type": "key", "key": key, "shift": shift, "ctrl": bool(e.state & CONTROL),
                                "alt": bool(e.state & ALT), "meta": bool(e.state & SUPER)})

    # -- DemonstrationRecorder ------------------------------------------------------------------------
    def _arrived(self, quiet: float = 0.05, timeout: float = 1.0) -> None:
        """Input sent before now has reached the X server (a round trip); wait until the record stream
        has been quiet for ``quiet`` seconds (bounded), so its events are in ``events``."""
        self._control.sync()
        deadline, seen, since = time.monotonic() + timeout, self._seen, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < quiet:
            time.sleep(0.005)
            if self._seen != seen:
                seen, since = self._seen, time.monotonic()

    def _look(self) -> Any:
        self.env.input_happened()
        return self.env.observe()

    def finish(self, status: str = "success") -> Any:
        try:
            return super().finish(status)
        finally:
            self.close()

    def close(self) -> None:
        context = getattr(self, "_context", None)
        if context is not None:
            self._context = None
            self._control.record_disable_context(context)
            self._control.sync()
            self._thread.join(timeout=5)
            self._data.record_free_context(context)
        for conn in (getattr(self, "_data", None), getattr(self, "_control", None)):
            if conn is not None:
                conn.close()


def _connect(env: Any) -> Any:
    """A new connection to ``env``'s display, with its private Xvfb's XAUTHORITY when it has one."""
    saved = {k: os.environ.get(k) for k in ("DISPLAY", "XAUTHORITY")}
    if getattr(env, "virtual", None) is not None:
        os.environ.update(env.virtual.environ())
    try:
        return connect(env.display_name)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
