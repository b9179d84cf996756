"""Test-only scripted policies for the simulated phone: they read the UI over adb (``uiautomator
dump``) and answer with real ``mobile_use`` tool-call TEXT in model space, so every task runs through
the whole pipeline (parse → validate → map → execute). One plan per task id."""

from __future__ import annotations

import base64
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from agent.geometry import Geometry, ScreenPoint, Size
from agent.models.base import Generation

Step = Callable[["UI"], dict[str, Any]]


class UI:
    """The current screen's nodes as ``uiautomator dump`` reports them (input-space bounds)."""

    def __init__(self, shell: Callable[[str], str]) -> None:
        xml = shell("uiautomator dump /dev/tty").rsplit("UI hierchary dumped to", 1)[0]
        self.nodes = []
        for node in ET.fromstring(xml).iter("node"):
            x1, y1, x2, y2 = map(int, re.findall(r"-?\d+", node.get("bounds", "")))
            self.nodes.append({"text": node.get("text", ""), "id": node.get("resource-id", ""),
                               "desc": node.get("content-desc", ""), "bounds": (x1, y1, x2, y2)})

    def find(self, text: str | None = None, id: str | None = None) -> dict[str, Any]:
        for n in self.nodes:
            if (text is None or n["text"] == text) and (id is None or n["id"] == id):
                return n
        raise AssertionError(f"no node text={text!r} id={id!r} on screen: {[n['text'] or n['id'] for n in self.nodes]}")

    def center(self, **kw: str) -> ScreenPoint:
        x1, y1, x2, y2 = self.find(**kw)["bounds"]
        return ScreenPoint((x1 + x2) / 2, (y1 + y2) / 2)


# -- steps --------------------------------------------------------------------------------------------
def tap(**kw: str) -> Step:
    return lambda ui: {"action": "click", "coordinate": ui.center(**kw)}


def long_press(**kw: str) -> Step:
    return lambda ui: {"action": "long_press", "coordinate": ui.center(**kw), "time": 1}


def type_(text: str) -> Step:
    return lambda ui: {"action": "type", "text": text}


def open_(app: str) -> Step:
    return lambda ui: {"action": "open", "text": app}


def button(name: str) -> Step:
    return lambda ui: {"action": "system_button", "button": name}


def answer(get: Callable[[UI], str]) -> Step:
    return lambda ui: {"action": "answer", "text": get(ui)}


def done(status: str = "success") -> Step:
    return lambda ui: {"action": "terminate", "status": status}


class ScriptedPolicy:
    """Plays ``plan``; each step sees a fresh UI dump; points are converted to model space here."""

    name = "scripted-android"

    def __init__(self, shell: Callable[[str], str], plan: list[Step]) -> None:
        self.shell, self.plan, self.index = shell, plan, 0
        self.texts: list[str] = []

    def next_text(self, model_size: Size, input_size: Size) -> str:
        step = self.plan[self.index] if self.index < len(self.plan) else done("failure")
        self.index += 1
        args = step(UI(self.shell))
        geometry = Geometry(model_size, input_size, model_size)
        for key, value in list(args.items()):
            if isinstance(value, ScreenPoint):
                p = geometry.to_model(value)
                args[key] = [round(p.x, 1), round(p.y, 1)]
        text = "<tool_call>\n" + json.dumps({"name": "mobile_use", "arguments": args}) + "\n</tool_call>"
        self.texts.append(text)
        return text

    # as an in-process model
    def generate(self, prompt) -> Generation:
        model_size = Size(*prompt.images[-1].size)
        return Generation(self.next_text(model_size, self._input_size(model_size)))

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted", "name": self.name}

    # as a ScriptedServer answer function (the OpenAI HTTP path)
    def answer_request(self, body: dict[str, Any]) -> str:
        from PIL import Image

        url = next(part["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
                   for part in m["content"] if part.get("type") == "image_url")
        with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
            model_size = Size(*image.size)
        return self.next_text(model_size, self._input_size(model_size))

    def _input_size(self, model_size: Size) -> Size:
        physical, *override = re.findall(r"\d+x\d+", self.shell("wm size"))
        size = Size.parse(override[0] if override else physical)
        if (model_size.width > model_size.height) != (size.width > size.height):
            size = Size(size.height, size.width)
        return size


class DoNothing:
    """Claims success at once without touching anything: every task must score 0 for it."""

    name = "do-nothing"

    def generate(self, prompt) -> Generation:
        return Generation('<tool_call>\n{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>')

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted", "name": self.name}


# -- one plan per task --------------------------------------------------------------------------------
def _toggle(label: str) -> list[Step]:
    return [open_("Settings"), tap(text=label), done()]


def _new_note(title: str, body: str) -> list[Step]:
    return [open_("Notes"), tap(id="new_note"), type_(title), tap(id="body"), type_(body), tap(id="save")]


def plan_for(task) -> list[Step]:
    p = task.params
    plans: dict[str, Callable[[], list[Step]]] = {
        "SystemWifiTurnOn": lambda: _toggle("Wi-Fi"),
        "SystemWifiTurnOff": lambda: _toggle("Wi-Fi"),
        "SystemBluetoothTurnOn": lambda: _toggle("Bluetooth"),
        "SystemBluetoothTurnOff": lambda: _toggle("Bluetooth"),
        "SystemAirplaneModeOn": lambda: _toggle("Airplane mode"),
        "SystemDarkThemeOn": lambda: _toggle("Dark theme"),
        "SystemAndroidVersionAnswer": lambda: [
            open_("Settings"), tap(text="About phone"),
            answer(lambda ui: ui.find(text="Android version")["desc"]), done()],
        "NotesCreate": lambda: [*_new_note(p["title"], p["body"]), done()],
        "NotesDelete": lambda: [open_("Notes"), long_press(text=p["title"]), tap(id="confirm"), done()],
        "NotesReadAnswer": lambda: [open_("Notes"), tap(text=p["title"]),
                                    answer(lambda ui: ui.find(id="body")["text"]), done()],
        "ContactsAdd": lambda: [open_("Contacts"), tap(id="new_contact"), type_(p["name"]), tap(id="phone"),
                                type_(p["phone"]), tap(id="save"), done()],
        "ContactsPhoneAnswer": lambda: [open_("Contacts"), tap(id="search"), type_(p["name"].split()[0]),
                                        tap(text=p["name"]), answer(lambda ui: ui.find(id="phone")["desc"]), done()],
        "ContactsCount": lambda: [open_("Contacts"), answer(lambda ui: str(sum(
            n["text"].endswith(" " + p["last"]) for n in ui.nodes if n["id"].startswith("contact_")))), done()],
        "ContactPhoneToNote": lambda: [
            open_("Contacts"), tap(text=p["name"]), _remember("phone", lambda ui: ui.find(id="phone")["desc"]),
            button("Home"), open_("Notes"), tap(id="new_note"), type_(p["title"]), tap(id="body"),
            _recall_type("phone"), tap(id="save"), done()],
        "AirplaneModeAndNote": lambda: [open_("Settings"), tap(text="Airplane mode"), button("Home"),
                                        *_new_note(p["title"], p["body"]), done()],
    }
    return plans[task.id]()


_memory: dict[str, str] = {}


def _remember(key: str, get: Callable[[UI], str]) -> Step:
    """Read something off the screen now (a no-op wait step), type it later with `_recall_type`."""
    def step(ui: UI) -> dict[str, Any]:
        _memory[key] = get(ui)
        return {"action": "wait", "time": 0}
    return step


def _recall_type(key: str) -> Step:
    return lambda ui: {"action": "type", "text": _memory[key]}
