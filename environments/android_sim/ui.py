"""The simulated phone's view model: a screen is a list of `Node`s built from state on every look.

One list serves three readers, so they can never disagree: the renderer draws it, the touch handler
hit-tests it, and ``uiautomator dump`` prints it. Bounds are in the input (logical) space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Bounds = tuple[int, int, int, int]  # x1, y1, x2, y2, x2/y2 exclusive


@dataclass
class Node:
    """One visible element. ``kind`` picks how it is drawn; ``on_tap``/``on_long`` make it interactive."""

    kind: str  # text | title | row | toggle | field | button | icon | fab | panel | dialog | keyboard
    bounds: Bounds
    text: str = ""
    resource_id: str = ""
    hint: str = ""
    checked: bool | None = None
    focused: bool = False
    color: tuple[int, int, int] | None = None
    on_tap: Callable[[], None] | None = None
    on_long: Callable[[], None] | None = None

    def contains(self, x: float, y: float) -> bool:
        x1, y1, x2, y2 = self.bounds
        return x1 <= x < x2 and y1 <= y < y2

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.bounds
        return (x1 + x2) / 2, (y1 + y2) / 2


@dataclass
class Screen:
    """One entry of the back stack: which app, which of its screens, and that screen's own state."""

    app: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def fields(self) -> dict[str, str]:
        return self.data.setdefault("fields", {})

    @property
    def focus(self) -> str | None:
        return self.data.get("focus")


@dataclass(frozen=True)
class Layout:
    """Sizes in the logical space, in dp-like units: ``u`` px per unit (360 units across)."""

    width: int
    height: int

    @property
    def u(self) -> float:
        return min(self.width, self.height) / 360

    def px(self, units: float) -> int:
        return round(units * self.u)

    @property
    def status_bar(self) -> int:
        return self.px(24)

    @property
    def app_bar(self) -> Bounds:
        return (0, self.status_bar, self.width, self.status_bar + self.px(56))

    @property
    def content_top(self) -> int:
        return self.app_bar[3]

    @property
    def keyboard_top(self) -> int:
        return self.height - self.px(220)

    def row(self, index: int, top: int | None = None, height: float = 64) -> Bounds:
        y = (self.content_top if top is None else top) + index * self.px(height)
        return (0, y, self.width, y + self.px(height))

    def fab(self) -> Bounds:
        s, m = self.px(56), self.px(16)
        return (self.width - s - m, self.height - s - m - self.px(24), self.width - m, self.height - m - self.px(24))


def uiautomator_xml(nodes: list[Node], package: str, rotation: int) -> str:
    """The nodes as ``uiautomator dump`` prints them (a flat hierarchy under one root)."""
    from xml.sax.saxutils import quoteattr

    lines = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>", f'<hierarchy rotation="{rotation}">']
    for i, n in enumerate(nodes):
        x1, y1, x2, y2 = n.bounds
        attrs = {
            "index": str(i), "text": n.text, "resource-id": n.resource_id, "class": _widget(n.kind),
            "package": package, "content-desc": n.hint, "checkable": str(n.checked is not None).lower(),
            "checked": str(bool(n.checked)).lower(), "clickable": str(n.on_tap is not None).lower(),
            "long-clickable": str(n.on_long is not None).lower(), "focused": str(n.focused).lower(),
            "bounds": f"[{x1},{y1}][{x2},{y2}]",
        }
        lines.append("  <node " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + " />")
    lines.append("</hierarchy>")
    return "\n".join(lines)


def _widget(kind: str) -> str:
    return {
        "field": "android.widget.EditText", "toggle": "android.widget.Switch", "button": "android.widget.Button",
        "fab": "android.widget.ImageButton", "icon": "android.widget.TextView",
    }.get(kind, "android.widget.TextView" if kind in ("text", "title", "row") else "android.view.View")
