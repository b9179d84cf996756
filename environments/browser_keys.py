"""The model's key names (xdotool, pyautogui, plain words) mapped onto Playwright's key names.

Qwen2.5-VL writes keys the way its training data did: ``ctrl``, ``Return``, ``esc``, ``cmd``,
``Page_Down``, ``pagedown``, single characters. An unknown name is the model's mistake and is fed back
to it as `ActionValidationError` listing what it may use.
"""

from __future__ import annotations

from agent.errors import ActionValidationError

_ALIASES = {
    "control": "Control", "ctrl": "Control", "ctl": "Control",
    "shift": "Shift",
    "alt": "Alt", "option": "Alt", "opt": "Alt", "altgr": "AltGraph",
    "meta": "Meta", "cmd": "Meta", "command": "Meta", "super": "Meta", "win": "Meta", "windows": "Meta",
    "enter": "Enter", "return": "Enter", "kpenter": "Enter",
    "escape": "Escape", "esc": "Escape",
    "tab": "Tab", "space": " ", "spacebar": " ",
    "backspace": "Backspace", "delete": "Delete", "del": "Delete", "insert": "Insert", "ins": "Insert",
    "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
    "arrowup": "ArrowUp", "arrowdown": "ArrowDown", "arrowleft": "ArrowLeft", "arrowright": "ArrowRight",
    "pageup": "PageUp", "pgup": "PageUp", "prior": "PageUp",
    "pagedown": "PageDown", "pgdn": "PageDown", "next": "PageDown",
    "home": "Home", "end": "End",
    "capslock": "CapsLock", "numlock": "NumLock", "scrolllock": "ScrollLock", "pause": "Pause",
    "printscreen": "PrintScreen", "print": "PrintScreen", "contextmenu": "ContextMenu", "menu": "ContextMenu",
    # xdotool's names for punctuation
    "minus": "-", "plus": "+", "equal": "=", "equals": "=", "comma": ",", "period": ".", "dot": ".",
    "slash": "/", "backslash": "\\", "semicolon": ";", "colon": ":", "apostrophe": "'", "quote": "'",
    "quotedbl": '"', "grave": "`", "backtick": "`", "asciitilde": "~", "tilde": "~",
    "bracketleft": "[", "bracketright": "]", "braceleft": "{", "braceright": "}",
    "parenleft": "(", "parenright": ")", "exclam": "!", "at": "@", "numbersign": "#", "dollar": "$",
    "percent": "%", "asciicircum": "^", "ampersand": "&", "asterisk": "*", "underscore": "_",
    "less": "<", "greater": ">", "question": "?", "bar": "|",
}
_ALIASES |= {f"f{i}": f"F{i}" for i in range(1, 25)}
_PRINTABLE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-=[]\\;',./`~!@#$%^&*()_+{}|:\"<>? ")
EXAMPLES = "ctrl, shift, alt, cmd, enter, esc, tab, space, backspace, delete, up, down, left, right, " \
    "pageup, pagedown, home, end, f1-f12, or a single character such as a or 1"


def to_playwright_key(name: str) -> str:
    """One model key name as Playwright's; raises `ActionValidationError` when it names no key."""
    if len(name) == 1 and name in _PRINTABLE:
        if name.isascii() and (name.islower() or name.isdigit()):  # by code, so a held Shift applies
            return f"Key{name.upper()}" if name.isalpha() else f"Digit{name}"
        return name
    normal = name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    for side in ("l", "r"):  # xdotool's Control_L, Shift_R ...
        if normal.endswith(side) and normal[:-1] in _ALIASES and len(normal) > 2:
            normal = normal[:-1]
    if normal in _ALIASES:
        return _ALIASES[normal]
    if len(name.strip()) == 1 and name.strip() in _PRINTABLE:
        return name.strip()
    raise ActionValidationError(f"unknown key {name!r}; use key names like {EXAMPLES}")


def to_playwright_keys(keys: list[str]) -> list[str]:
    """Map a combination; ``"ctrl+a"`` written as one element is split into its keys."""
    out = []
    for key in keys:
        parts = key.split("+") if "+" in key and key.strip() != "+" else [key]
        out.extend(to_playwright_key(p) for p in parts)
    return out
