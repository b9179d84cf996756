"""Keys and text on X11: the model's key names mapped onto pyautogui's, and typing any Unicode text.

pyautogui's ``write`` knows only ASCII and xdotool's ``type`` rebinds one scratch keycode per character
and loses characters when the client reads the keymap late (measured under Xvfb with Tk: "日本語"
arrived as "日語"). `Typist` sends XTest key events itself: characters on the keyboard map are pressed
as they are (with Shift when needed); any other character gets its own spare keycode, which keeps that
binding until the spare keycodes run out or the session ends, so no event is read against a keymap
that changed under it. Bindings from earlier calls are reused first; a text with more distinct
unmapped characters than spare keycodes (19 on Xvfb) waits for the screen to settle before it rebinds
a keycode it used itself (no X event says a client has read its keymap).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from agent.errors import ActionValidationError

# The model's names (Qwen's computer_use, xdotool/X keysym names, browser KeyboardEvent.key names)
# onto pyautogui's X11 key names. Lookup is case-insensitive after spaces/dashes become underscores.
ALIASES = {
    "control": "ctrl", "ctl": "ctrl", "control_l": "ctrlleft", "control_r": "ctrlright", "ctrl_l": "ctrlleft",
    "ctrl_r": "ctrlright", "lctrl": "ctrlleft", "rctrl": "ctrlright",
    "alt_l": "altleft", "alt_r": "altright", "option": "alt", "opt": "alt", "altgr": "altright",
    "shift_l": "shiftleft", "shift_r": "shiftright", "lshift": "shiftleft", "rshift": "shiftright",
    "super": "win", "super_l": "winleft", "super_r": "winright", "meta": "win", "cmd": "win", "command": "win",
    "windows": "win", "os": "win", "start": "win", "menu": "apps", "context_menu": "apps",
    "return": "enter", "kp_enter": "enter", "newline": "enter", "escape": "esc",
    "back_space": "backspace", "bksp": "backspace", "del": "delete", "ins": "insert",
    "page_up": "pageup", "prior": "pageup", "page_down": "pagedown", "next": "pagedown",
    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right",
    "arrow_up": "up", "arrow_down": "down", "arrow_left": "left", "arrow_right": "right",
    "caps_lock": "capslock", "num_lock": "numlock", "scroll_lock": "scrolllock",
    "print": "printscreen", "print_screen": "printscreen", "sysrq": "printscreen",
    "spacebar": "space", "plus": "+", "minus": "-", "comma": ",", "period": ".", "slash": "/",
    "backslash": "\\", "semicolon": ";", "apostrophe": "'", "quote": "'", "grave": "`", "equal": "=",
    "bracketleft": "[", "bracketright": "]", "tab": "tab",
}
EXAMPLES = "ctrl, alt, shift, super, enter, esc, tab, backspace, delete, up, pagedown, home, f5, a, 1"


def key_names(keys: list[str], known: dict) -> list[str]:
    """pyautogui names for the model's ``keys``; unknown names raise `ActionValidationError`.

    ``known`` is pyautogui's keyboard mapping (name -> keycode). ``["ctrl+c"]`` is split on ``+``; a
    single capital letter pressed with a modifier means the letter key (``Ctrl+C`` is ctrl and c).
    """
    names: list[str] = []
    for key in keys:
        parts = [key] if key in ("+", " ") or "+" not in key.strip("+") else [p for p in key.split("+") if p]
        names.extend(_one(part, known) for part in parts)
    if len(names) > 1:
        names = [n.lower() if len(n) == 1 and n.isalpha() else n for n in names]
    return names


def _one(key: str, known: dict) -> str:
    if len(key) == 1 and known.get(key):
        return key
    if key == " ":
        return "space"
    norm = key.strip().lower().replace("-", "_").replace(" ", "_")
    name = ALIASES.get(norm, norm)
    if not known.get(name):
        name = name.replace("_", "")
    if known.get(name):
        return name
    raise ActionValidationError(
        f"unknown key {key!r} in action 'key'; use key names such as {EXAMPLES} "
        "(for text, use the 'type' action instead)"
    )


def closest(keycodes: list[int], n: int) -> list[int]:
    """``n`` of the sorted ``keycodes`` spanning the fewest keycodes: a batch rewrites its whole span."""
    if n >= len(keycodes):
        return keycodes
    start = min(range(len(keycodes) - n + 1), key=lambda i: keycodes[i + n - 1] - keycodes[i])
    return keycodes[start:start + n]


def keysym_for(char: str) -> int:
    """The X keysym of a character: Latin-1 keysyms equal the code point, others are 0x01000000 + it."""
    if char in ("\n", "\r"):
        return 0xFF0D  # Return
    if char == "\t":
        return 0xFF09  # Tab
    if char == "\b":
        return 0xFF08  # BackSpace
    cp = ord(char)
    return cp if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF else 0x01000000 | cp


class Typist:
    """Types text through XTest on one Xlib connection, binding spare keycodes for unmapped characters.

    Keymap changes are made in one batch before the key events that need them: a change made between
    key events is sometimes missed by the client (measured with Tk: "абвгде" arrived as "абвδεе" when
    each rebinding was followed at once by its key). One character per spare keycode (binding a second
    one at the Shift level lost characters too), so 19 distinct unmapped characters fit in one batch
    on Xvfb; a longer alphabet is typed in chunks, waiting for the screen to settle between them.
    """

    # Between chunks that rebind keycodes: after the screen settled, this long again.
    REBIND_GRACE = 0.2

    def __init__(self, display, settle: Callable[[], object] | None = None) -> None:
        from Xlib import XK

        self.display = display
        info = display.display.info
        mapping = display.get_keyboard_mapping(info.min_keycode, info.max_keycode - info.min_keycode + 1)
        self._spare = [info.min_keycode + i for i, syms in enumerate(mapping) if not any(syms)]
        self._keys: OrderedDict[int, int] = OrderedDict()  # bound keycode -> keysym, least recently used first
        self._where: dict[int, tuple[int, int]] = {}  # keysym -> (keycode, level)
        self._shift = display.keysym_to_keycode(XK.XK_Shift_L)
        self._settle = settle

    @property
    def capacity(self) -> int:
        return len(self._spare)

    def type(self, text: str) -> None:
        keysyms = [keysym_for(c) for c in text.replace("\r\n", "\n")]
        for index, (chunk, unmapped) in enumerate(self._chunks(keysyms)):
            if index:
                self.display.sync()
                if self._settle is not None:
                    self._settle()
                time.sleep(self.REBIND_GRACE)
            self._bind(unmapped)
            self._press(chunk)
        self.display.sync()

    def _chunks(self, keysyms: list[int]) -> list[tuple[list[int], list[int]]]:
        """Split the text so no chunk needs more unmapped characters than the spare keycodes hold."""
        if not self._spare and any(self._core(k) is None for k in keysyms):
            raise ActionValidationError("this X keyboard map has no spare keycode to type non-ASCII text with")
        chunks: list[tuple[list[int], list[int]]] = [([], [])]
        for keysym in keysyms:
            chunk, unmapped = chunks[-1]
            if self._core(keysym) is None and keysym not in unmapped:
                if len(unmapped) == self.capacity:
                    chunk, unmapped = [], []
                    chunks.append((chunk, unmapped))
                unmapped.append(keysym)
            chunk.append(keysym)
        return chunks

    def _core(self, keysym: int) -> tuple[int, bool] | None:
        """A keycode of the user's keymap that types ``keysym`` (python-xlib's cache holds that keymap)."""
        for keycode, index in self.display.keysym_to_keycodes(keysym):
            if index in (0, 1) and keycode not in self._spare:
                return keycode, index == 1
        return None

    def _bind(self, needed: list[int]) -> None:
        """Bind every keysym in ``needed`` to a spare slot, in one batch of keymap changes."""
        missing = [k for k in needed if k not in self._where]
        if not missing:
            return
        keep = {self._where[k][0] for k in needed if k in self._where}
        free = closest(sorted(k for k in self._spare if k not in keep), len(missing))
        rows = {}
        for keycode, keysym in zip(free, missing, strict=False):  # len(free) >= len(missing) by chunking
            old = self._keys.pop(keycode, None)
            if old is not None:
                self._where.pop(old, None)
            rows[keycode] = keysym
            self._keys[keycode] = keysym
            self._where[keysym] = (keycode, 0)
        self._change(rows)

    def _change(self, rows: dict[int, int]) -> None:
        """Rebind keycodes in ONE request: one MappingNotify per batch. Several in a row race with the
        client's keymap refresh (Xlib can clear a change it read during its refresh round trip), which
        left Tk typing long-gone characters for a rebound keycode. Keycodes between the spare ones are
        written back as they are (read just before); `closest` keeps that span small."""
        low, high = min(rows), max(rows)
        current = self.display.get_keyboard_mapping(low, high - low + 1)
        width = max(len(row) for row in current)
        table = []
        for offset, row in enumerate(current):
            keysym = rows.get(low + offset)
            table.append((keysym,) + (0,) * (width - 1) if keysym is not None else tuple(row) + (0,) * (width - len(row)))
        self.display.change_keyboard_mapping(low, table)
        self.display.sync()

    def _press(self, keysyms: list[int]) -> None:
        from Xlib import X
        from Xlib.ext.xtest import fake_input

        for keysym in keysyms:
            core = self._core(keysym)
            if core is not None:
                keycode, shifted = core
            else:
                keycode, level = self._where[keysym]
                shifted = level == 1
                self._keys.move_to_end(keycode)
            if shifted:
                fake_input(self.display, X.KeyPress, self._shift)
            fake_input(self.display, X.KeyPress, keycode)
            fake_input(self.display, X.KeyRelease, keycode)
            if shifted:
                fake_input(self.display, X.KeyRelease, self._shift)

    def restore(self) -> None:
        """Unbind the spare keycodes again (the keymap is the user's)."""
        if self._keys:
            self._change(dict.fromkeys(self._keys, 0))
        self._keys.clear()
        self._where.clear()
        self.display.sync()
