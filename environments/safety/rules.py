"""What the safety gate allows, denies or asks about: rules matched on the validated action, first match wins.

A rule names a ``decision`` (allow, deny, ask) and any of: action types, key combinations (order and
spelling insensitive: ``ctrl+alt+del`` = ``["Delete", "control", "alt"]``), a regular expression searched
in typed text, app names (Android ``open``). Every condition given must hold. A user's rules file (TOML)
comes first; the defaults below follow unless it says ``defaults = false``.

```toml
allow_domains = ["example.com"]     # merged with --allow-domain (browser navigation, however caused)
allow_apps = ["Settings", "Notes"]   # merged with --allow-app (Android `open`)

[[rule]]
decision = "allow"
keys = ["alt+f4"]                    # this user's desktop needs it

[[rule]]
decision = "ask"
action = ["type"]
text = "(?i)delete|drop table"
reason = "typing a destructive command"
```
"""

from __future__ import annotations

import re
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import ConfigError

Decision = Literal["allow", "deny", "ask"]

_KEY_ALIASES = {
    "control": "ctrl", "ctl": "ctrl", "lctrl": "ctrl", "rctrl": "ctrl", "control_l": "ctrl", "control_r": "ctrl",
    "cmd": "super", "command": "super", "meta": "super", "win": "super", "windows": "super", "super_l": "super",
    "super_r": "super", "os": "super", "option": "alt", "opt": "alt", "alt_l": "alt", "alt_r": "alt", "altgr": "alt",
    "shift_l": "shift", "shift_r": "shift", "del": "delete", "escape": "esc", "return": "enter", "bksp": "backspace",
    "back_space": "backspace", "keycode_power": "power", "xf86poweroff": "power", "poweroff": "power",
    "xf86logoff": "logoff", "keycode_sleep": "sleep", "xf86sleep": "sleep",
}


def normalise_keys(keys: list[str] | str) -> frozenset[str]:
    """A key combination as a set of canonical names: ``["Control_L", "Alt", "Del"]`` -> {ctrl, alt, delete}."""
    parts = [keys] if isinstance(keys, str) else list(keys)
    names = [p.strip().lower() for part in parts for p in re.split(r"\+(?!$)", part) if p.strip()]
    return frozenset(_KEY_ALIASES.get(n, n) for n in names)


class Rule(BaseModel):
    """One rule; ``name`` is what the trajectory and the model are told matched."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    name: str = ""
    action: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list)
    text: str | None = None
    app: list[str] = Field(default_factory=list)
    reason: str = ""

    @field_validator("text")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"text {value!r} is not a valid regular expression: {exc}") from None
        return value

    @cached_property
    def combos(self) -> list[frozenset[str]]:
        return [normalise_keys(k) for k in self.keys]

    def label(self) -> str:
        if self.name:
            return self.name
        parts = [f"action={','.join(self.action)}"] if self.action else []
        parts += [f"keys={','.join(self.keys)}"] if self.keys else []
        parts += [f"text=/{self.text}/"] if self.text else []
        parts += [f"app={','.join(self.app)}"] if self.app else []
        return f"{self.decision}({' '.join(parts)})"

    def matches(self, action: dict[str, Any]) -> bool:
        """Whether every condition this rule sets holds for ``action`` (the action's JSON fields)."""
        name = action.get("action")
        if self.action and name not in self.action:
            return False
        if self.keys:
            pressed = action.get("keys") if name == "key" and "keys" in action else (
                [action.get("text", "")] if name == "key" else None)
            if pressed is None or normalise_keys(pressed) not in self.combos:
                return False
        if self.text is not None and (name != "type" or not re.search(self.text, str(action.get("text", "")))):
            return False
        return not self.app or name == "open" and str(action.get("text", "")).lower() in {a.lower() for a in self.app}


class RuleSet(BaseModel):
    """A rules file: rules in order, whether the defaults follow, allowlists."""

    model_config = ConfigDict(extra="forbid")

    rule: list[Rule] = Field(default_factory=list)
    defaults: bool = True
    allow_domains: list[str] = Field(default_factory=list)
    allow_apps: list[str] = Field(default_factory=list)

    def all_rules(self) -> list[Rule]:
        return self.rule + (DEFAULT_RULES if self.defaults else [])

    def first_match(self, action: dict[str, Any]) -> Rule | None:
        return next((r for r in self.all_rules() if r.matches(action)), None)


def load_rules(path: str | Path | None) -> RuleSet:
    """The rules of the TOML file at ``path`` (the defaults alone when None); a bad file is a ConfigError."""
    if path is None:
        return RuleSet()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--rules {path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--rules {path} is not valid TOML: {exc}") from None
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"--rules {path}: {problems}. Each [[rule]] needs decision = \"allow\" | \"deny\" | "
                          "\"ask\" and may set action, keys, text, app, name, reason") from None


_DESTRUCTIVE_SHELL = (
    r"\brm\s+(-[a-zA-Z]*[rR][a-zA-Z]*[fF]|-[a-zA-Z]*[fF][a-zA-Z]*[rR]|(-[a-zA-Z]+\s+)*--recursive|-[rR]\s+-[fF]|-[fF]\s+-[rR])"
    r"|\bmkfs(\.\w+)?\b|\bdd\s+[^\n]*\bof=/dev/|\b(shutdown|poweroff|reboot|halt)\b|:\(\)\s*\{\s*:\|:&\s*\}\s*;\s*:"
    r"|\bchmod\s+(-R\s+)?[0-7]{3,4}\s+/(\s|$)|>\s*/dev/[sh]d[a-z]|\bgit\s+push\s+[^\n]*--force\b|\bdel\s+/[sSqQ]"
    r"|\bformat\s+[a-zA-Z]:|\bRemove-Item\b[^\n]*-Recurse"
)

DEFAULT_RULES = [
    Rule(decision="deny", name="logout-or-lock", reason="this key combination logs out or locks the session",
         keys=["ctrl+alt+delete", "ctrl+alt+backspace", "super+l", "ctrl+alt+l", "ctrl+super+q", "super+shift+q",
               "ctrl+alt+shift+delete", "logoff", "ctrl+shift+q"]),
    Rule(decision="deny", name="power", reason="this key powers off, suspends or reboots the machine",
         keys=["power", "sleep", "ctrl+alt+end", "super+alt+esc"]),
    Rule(decision="deny", name="close-everything", reason="this key combination closes every window or quits",
         keys=["ctrl+shift+w", "super+q", "super+alt+f4", "alt+shift+f4", "super+shift+w"]),
    Rule(decision="deny", name="destructive-command", action=["type"], text=_DESTRUCTIVE_SHELL,
         reason="the text is a destructive shell command (rm -rf, mkfs, dd, shutdown, ...)"),
]
