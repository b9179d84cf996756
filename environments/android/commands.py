"""Shell command lines for each ``mobile_use`` action, quoted so model text can never become code.

Every argument that came from the model goes through `shlex.quote` (the device's sh parses the line);
``input text`` gets its own escaping on top: spaces become ``%s`` (the command's own convention) and a
literal ``%s`` is split across two calls so it is not read as a space.
"""

from __future__ import annotations

import base64
import re
import shlex

from agent.errors import ActionValidationError

# Android KeyEvent names (without the KEYCODE_ prefix) a model may plausibly send.
_KEY_WORDS = (
    "HOME BACK CALL ENDCALL STAR POUND DPAD_UP DPAD_DOWN DPAD_LEFT DPAD_RIGHT DPAD_CENTER VOLUME_UP VOLUME_DOWN "
    "POWER CAMERA CLEAR COMMA PERIOD ALT_LEFT ALT_RIGHT SHIFT_LEFT SHIFT_RIGHT TAB SPACE SYM EXPLORER ENVELOPE "
    "ENTER DEL GRAVE MINUS EQUALS LEFT_BRACKET RIGHT_BRACKET BACKSLASH SEMICOLON APOSTROPHE SLASH AT NUM "
    "HEADSETHOOK FOCUS PLUS MENU NOTIFICATION SEARCH MEDIA_PLAY_PAUSE MEDIA_STOP MEDIA_NEXT MEDIA_PREVIOUS "
    "MEDIA_REWIND MEDIA_FAST_FORWARD MUTE PAGE_UP PAGE_DOWN ESCAPE FORWARD_DEL CTRL_LEFT CTRL_RIGHT CAPS_LOCK "
    "MOVE_HOME MOVE_END INSERT MEDIA_PLAY MEDIA_PAUSE VOLUME_MUTE APP_SWITCH SETTINGS BRIGHTNESS_DOWN "
    "BRIGHTNESS_UP SLEEP WAKEUP ASSIST VOICE_ASSIST ALL_APPS CUT COPY PASTE CALCULATOR CONTACTS CALENDAR "
    "MUSIC CAMERA_FOCUS NOTIFICATION SCREENSHOT"
)
KEY_NAMES = frozenset(
    _KEY_WORDS.split() + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [str(d) for d in range(10)] + [f"F{i}" for i in range(1, 13)]
)
ALIASES = {"BACKSPACE": "DEL", "DELETE": "DEL", "RETURN": "ENTER", "ESC": "ESCAPE", "VOLUMEUP": "VOLUME_UP",
           "VOLUMEDOWN": "VOLUME_DOWN", "RECENT": "APP_SWITCH", "RECENTS": "APP_SWITCH", "RECENT_APPS": "APP_SWITCH",
           "UP": "DPAD_UP", "DOWN": "DPAD_DOWN", "LEFT": "DPAD_LEFT", "RIGHT": "DPAD_RIGHT", "LOCK": "POWER"}
SYSTEM_BUTTONS = {"Back": "KEYCODE_BACK", "Home": "KEYCODE_HOME", "Menu": "KEYCODE_MENU", "Enter": "KEYCODE_ENTER"}
ADB_IME = "com.android.adbkeyboard/.AdbIME"


def keycode(name: str) -> str:
    """``volume_up`` / ``KEYCODE_VOLUME_UP`` / ``Volume Up`` / ``24`` → ``KEYCODE_VOLUME_UP`` (or the number)."""
    text = name.strip()
    if text.isdigit() and 0 <= int(text) <= 400:
        return text
    key = re.sub(r"[\s-]+", "_", text.upper()).removeprefix("KEYCODE_")
    key = ALIASES.get(key.replace("_", ""), ALIASES.get(key, key))
    if key not in KEY_NAMES:
        raise ActionValidationError(
            f"unknown key {name!r}: use an Android keyevent name such as volume_up, volume_down, enter, del, "
            f"back, home, app_switch, power, tab, space, or a letter/digit; use system_button for Back/Home/Enter")
    return f"KEYCODE_{key}"


def tap(x: int, y: int) -> str:
    return f"input tap {x} {y}"


def swipe(x1: int, y1: int, x2: int, y2: int, millis: int) -> str:
    return f"input swipe {x1} {y1} {x2} {y2} {millis}"


def key(code: str) -> str:
    return f"input keyevent {shlex.quote(code)}"


def type_ascii(text: str) -> str:
    """One command line typing ``text`` (ASCII) with ``input text``; newlines and tabs become key events."""
    parts: list[str] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            parts.append(key("KEYCODE_ENTER"))
        for j, cell in enumerate(line.split("\t")):
            if j:
                parts.append(key("KEYCODE_TAB"))
            # split wherever a literal "%s" occurs, so no chunk contains one; then spaces → %s
            for chunk in re.split(r"(?<=%)(?=s)", cell):
                if chunk:
                    parts.append(f"input text {shlex.quote(chunk.replace(' ', '%s'))}")
    return "; ".join(parts)


def type_unicode(text: str) -> str:
    """ADB Keyboard's broadcast, base64 so no character needs shell quoting."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"am broadcast -a ADB_INPUT_B64 --es msg {payload}"


def launch(package: str, activity: str | None) -> str:
    if activity:
        return f"am start -n {shlex.quote(package + '/' + activity)}"
    return f"monkey -p {shlex.quote(package)} -c android.intent.category.LAUNCHER 1"
