"""Keys and text on X11: the model's key names mapped onto pyautogui's, and typing any Unicode text.

pyautogui's ``write`` knows only ASCII and xdotool's ``type`` rebinds one scratch keycode per character
and loses characters when the client reads the keymap late (measured under Xvfb with Tk: "日本語"
arrived as "日語"). `Typist` sends XTest key events itself: characters on the keyboard map are pressed
as they are (with Shift when needed); any other character gets its own spare keycode, which keeps that
binding until the spare keycodes run out or the session ends, so no event is read against a keymap
that changed under it.
"""

from __future__ import annotations

import time
from collections import OrderedDict

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
    """Types text through XTest on one Xlib connection, binding spare keycodes for unmapped characters."""

    # When every spare keycode is bound and another character needs one, give clients this long to
    # read the keymap they were sent events against before it changes (no event tells us they did).
    REBIND_GRACE = 0.1

    def __init__(self, display) -> None:
        from Xlib import XK

        self.display = display
        info = display.display.info
        self._first = info.min_keycode
        mapping = display.get_keyboard_mapping(info.min_keycode, info.max_keycode - info.min_keycode + 1)
        self._spare = [info.min_keycode + i for i, syms in enumerate(mapping) if not any(syms)]
        self._bound: OrderedDict[int, int] = OrderedDict()  # keysym -> spare keycode, oldest first
        self._shift = display.keysym_to_keycode(XK.XK_Shift_L)

    def type(self, text: str) -> None:
        from Xlib import X
        from Xlib.ext.xtest import fake_input

        text = text.replace("\r\n", "\n")
        for char in text:
            keycode, shifted = self._keycode(keysym_for(char))
            if shifted:
                fake_input(self.display, X.KeyPress, self._shift)
            fake_input(self.display, X.KeyPress, keycode)
            fake_input(self.display, X.KeyRelease, keycode)
            if shifted:
                fake_input(self.display, X.KeyRelease, self._shift)
        self.display.sync()

    def _keycode(self, keysym: int) -> tuple[int, bool]:
        for keycode, index in self.display.keysym_to_keycodes(keysym):
            if index in (0, 1) and keycode not in self._bound.values():
                return keycode, index == 1
        if keysym in self._bound:
            self._bound.move_to_end(keysym)
            return self._bound[keysym], False
        if not self._spare:
            raise ActionValidationError("this X keyboard map has no spare keycode to type non-ASCII text with")
        if len(self._bound) < len(self._spare):
            keycode = self._spare[len(self._bound)]
        else:
            self.display.sync()
            time.sleep(self.REBIND_GRACE)
            _, keycode = self._bound.popitem(last=False)
        self.display.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self.display.sync()
        self._bound[keysym] = keycode
        return keycode, False

    def restore(self) -> None:
        """Unbind the spare keycodes again (the keymap is the user's)."""
        for keycode in self._bound.values():
            self.display.change_keyboard_mapping(keycode, [(0, 0)])
        self._bound.clear()
        self.display.sync()
