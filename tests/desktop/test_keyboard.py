"""The key-name table and the typist's helpers, without an X server (the real typing is in test_desktop)."""

from __future__ import annotations

import pytest

from agent.errors import ActionValidationError
from environments.x11.keyboard import closest, key_names, keysym_for

# the shape of pyautogui's X11 mapping: name -> keycode (0 or None: not on this keyboard)
KNOWN = {k: 1 for k in ["ctrl", "alt", "shift", "win", "enter", "esc", "tab", "backspace", "delete", "pagedown",
                        "pageup", "up", "down", "left", "right", "home", "end", "f4", "f5", "space", "capslock",
                        "printscreen", "ctrlleft", "winleft", "apps", "insert", "a", "c", "A", "+", "-", "1", "'"]}
KNOWN["f24"] = 0


@pytest.mark.parametrize("keys,expected", [
    (["ctrl", "c"], ["ctrl", "c"]),
    (["Control", "C"], ["ctrl", "c"]),
    (["ctrl+shift+a"], ["ctrl", "shift", "a"]),
    (["Return"], ["enter"]),
    (["KP_Enter"], ["enter"]),
    (["Escape"], ["esc"]),
    (["BackSpace"], ["backspace"]),
    (["Page_Down"], ["pagedown"]),
    (["Next"], ["pagedown"]),
    (["Prior"], ["pageup"]),
    (["ArrowUp"], ["up"]),
    (["super"], ["win"]),
    (["cmd", "a"], ["win", "a"]),
    (["Super_L"], ["winleft"]),
    (["Caps_Lock"], ["capslock"]),
    (["Print"], ["printscreen"]),
    (["F4"], ["f4"]),
    (["A"], ["A"]),
    (["+"], ["+"]),
    (["ctrl", "plus"], ["ctrl", "+"]),
    ([" "], ["space"]),
    (["Del"], ["delete"]),
    (["menu"], ["apps"]),
])
def test_key_names(keys, expected):
    assert key_names(keys, KNOWN) == expected


@pytest.mark.parametrize("key", ["hyperdrive", "f24", "ctrl+nope", "é"])
def test_unknown_keys_are_explained_to_the_model(key):
    with pytest.raises(ActionValidationError, match="unknown key .*use key names such as .*'type' action"):
        key_names([key], KNOWN)


def test_keysyms():
    assert [keysym_for(c) for c in "a~\n\t"] == [0x61, 0x7E, 0xFF0D, 0xFF09]
    assert keysym_for("é") == 0xE9 and keysym_for("€") == 0x010020AC and keysym_for("日") == 0x010065E5


def test_closest_keeps_the_rewritten_span_small():
    spare = [8, 93, 97, 103, 120, 132, 149, 154, 168, 178, 183, 184, 197, 202]
    assert closest(spare, 2) == [183, 184]
    assert closest(spare, 3) == [178, 183, 184]
    assert closest(spare, 20) == spare
