"""The model's key names onto Playwright's: a table, plus what must be refused."""

from __future__ import annotations

import pytest

from agent.errors import ActionValidationError
from environments.browser_keys import to_playwright_key, to_playwright_keys

TABLE = [
    ("ctrl", "Control"), ("Control_L", "Control"), ("CTRL", "Control"), ("shift", "Shift"), ("Shift_R", "Shift"),
    ("alt", "Alt"), ("option", "Alt"), ("cmd", "Meta"), ("command", "Meta"), ("super", "Meta"), ("Super_L", "Meta"),
    ("win", "Meta"), ("Return", "Enter"), ("enter", "Enter"), ("KP_Enter", "Enter"), ("esc", "Escape"),
    ("Escape", "Escape"), ("tab", "Tab"), ("space", " "), ("BackSpace", "Backspace"), ("del", "Delete"),
    ("pagedown", "PageDown"), ("Page_Down", "PageDown"), ("Next", "PageDown"), ("pgup", "PageUp"),
    ("Prior", "PageUp"), ("up", "ArrowUp"), ("Left", "ArrowLeft"), ("arrowright", "ArrowRight"),
    ("home", "Home"), ("End", "End"), ("F5", "F5"), ("f12", "F12"), ("a", "KeyA"), ("z", "KeyZ"), ("A", "A"),
    ("1", "Digit1"), ("minus", "-"), ("period", "."), ("/", "/"), ("+", "+"), ("insert", "Insert"),
]


@pytest.mark.parametrize(("name", "expected"), TABLE)
def test_key_names(name: str, expected: str) -> None:
    assert to_playwright_key(name) == expected


def test_combination_in_one_string_is_split() -> None:
    assert to_playwright_keys(["ctrl+shift+t"]) == ["Control", "Shift", "KeyT"]
    assert to_playwright_keys(["ctrl", "+"]) == ["Control", "+"]


@pytest.mark.parametrize("name", ["hyperdrive", "", "ctrl+", "F99", "é", "left_click"])
def test_unknown_keys_are_the_models_mistake(name: str) -> None:
    with pytest.raises(ActionValidationError, match="unknown key"):
        to_playwright_keys([name])
