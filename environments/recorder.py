"""Record by demonstration: a person's clicks, typing, keys and scrolls, as a trajectory.

`DemonstrationRecorder` turns reported input into steps; `BrowserRecorder` (here) and
`environments.x11.recorder.DesktopRecorder` (XRecord) report it.

`BrowserRecorder` injects a small listener script into every document of a `BrowserEnvironment`
(``recorder.js``, reporting through a Playwright binding) and turns the input it reports into
``computer_use`` actions, written in exactly the format of a model's run: the screenshot each action was
done on, the geometry, model-space and screen-space points, the element hit, and a synthesized raw tool
call per step, so `gui-agent replay` (offline or ``--live``) runs a demonstration with the same machinery.

How a step's screenshot is taken: after each recorded action the page is left to settle and the screen
is captured; that capture is the "before" screenshot of the next action (the loop observes the same
way: after settling). Limits: input that arrives faster than a settle (a click right after another)
shares the earlier screenshot; typed characters are merged into one ``type`` action until another kind of
input comes; IME composition, drag-and-drop of files and input inside cross-origin frames are not
recorded; hover-only effects are not recorded (no action moves the mouse without a click).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.geometry import MAX_PIXELS, MIN_PIXELS, Geometry, ScreenPoint
from agent.loop import _action_record, _now, package_versions
from agent.mapping import to_command
from agent.trajectory import TrajectoryWriter
from environments.base import Observation
from tools import get_tool

RECORDER_SCRIPT = (Path(__file__).parent / "webapps" / "recorder.js").read_text("utf-8")
DRAG_PX = 5  # a press and release farther apart than this is a drag
SCROLL_GAP_MS = 400  # wheel events closer in time than this, at the same place, are one scroll
_KEYS = {"Enter": "enter", "Tab": "tab", "Escape": "esc", "Backspace": "backspace", "Delete": "delete",
         "ArrowUp": "up", "ArrowDown": "down", "ArrowLeft": "left", "ArrowRight": "right", "PageUp": "pageup",
         "PageDown": "pagedown", "Home": "home", "End": "end", " ": "space", "Insert": "insert"}
_MODIFIERS = {"Control", "Shift", "Alt", "Meta", "AltGraph", "CapsLock"}


@dataclass
class _Pending:
    """An action still open to merging (typing goes on, a second click makes a double click)."""

    action: dict[str, Any]
    before: Observation
    hit: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class DemonstrationRecorder:
    """Turns reported input events into steps; subclasses report them (``events``) and say how to look.

    Events are dicts: ``{"type": "pointer", "button": 0|1|2, "x", "y", "x2", "y2", "detail", "hit"}``,
    ``{"type": "key", "key": KeyboardEvent.key, "ctrl", "alt", "meta", "shift"}``,
    ``{"type": "wheel", "x", "y", "dy", "t"}`` (points in the environment's input space, absolute).
    """

    def __init__(self, env: Any, out: str | Path, instruction: str = "", *, min_pixels: int = MIN_PIXELS,
                 max_pixels: int = MAX_PIXELS) -> None:
        self.env, self.out = env, Path(out)
        self.instruction = instruction or "Repeat the recorded demonstration"
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.tool = get_tool("computer_use")
        self.writer = TrajectoryWriter(self.out)
        self.events: list[dict[str, Any]] = []
        self.steps = 0
        self._pending: _Pending | None = None
        self._before: Observation | None = None
        self._finished = False

    def _look(self) -> Observation:  # pragma: no cover - every recorder says how
        raise NotImplementedError

    def _arrived(self) -> None:
        """Make sure input reported before now is in ``events``."""

    def start(self) -> None:
        run = {"instruction": self.instruction, "started_at": _now(), "tool": self.tool.name,
               "model": {"backend": "demonstration", "name": "person"}, "environment": self.env.describe(),
               "options": {"max_steps": 0, "max_retries": 2, "min_pixels": self.min_pixels,
                           "max_pixels": self.max_pixels, "history_images": 1, "reasoning": False},
               "versions": package_versions(), "recorded_by": "demonstration"}
        self.writer.start(run)
        self._before = self._look()

    # -- input -> actions ---------------------------------------------------------------------------
    def poll(self) -> int:
        """Turn the input reported so far into steps; returns how many steps are written in all."""
        self._arrived()
        if not self.events:
            return self.steps
        events, self.events = self.events, []
        for event in events:
            self._event(event)
        self._before = self._look()
        return self.steps

    def _event(self, e: dict[str, Any]) -> None:
        kind = e.get("type")
        if kind == "pointer":
            self._pointer(e)
        elif kind == "key":
            self._key(e)
        elif kind == "wheel":
            self._wheel(e)

    def _pointer(self, e: dict[str, Any]) -> None:
        start, end = (e["x"], e["y"]), (e["x2"], e["y2"])
        hit = e.get("hit")
        if math.dist(start, end) > DRAG_PX and e["button"] == 0:
            self._emit(_Pending({"action": "mouse_move", "coordinate": start}, self._before, hit))
            self._emit(_Pending({"action": "left_click_drag", "coordinate": end}, self._before))
            return
        name = {0: "left_click", 1: "middle_click", 2: "right_click"}.get(e["button"])
        if name is None:
            return
        p = self._pending
        if (name == "left_click" and e.get("detail") == 2 and p is not None and p.action["action"] == "left_click"
                and math.dist(p.action["coordinate"], start) <= DRAG_PX):
            p.action["action"] = "double_click"  # the second press of a double click
            return
        self._emit(_Pending({"action": name, "coordinate": start}, self._before, hit))

    def _key(self, e: dict[str, Any]) -> None:
        key = e["key"]
        if key in _MODIFIERS:
            return
        combo = e.get("ctrl") or e.get("alt") or e.get("meta")
        if len(key) == 1 and not combo:
            p = self._pending
            if p is not None and p.action["action"] == "type":
                p.action["text"] += key
            else:
                self._emit(_Pending({"action": "type", "text": key}, self._before))
            return
        name = _KEYS.get(key, key.lower() if len(key) == 1 else key.lower())
        mods = [m for m, on in (("ctrl", e.get("ctrl")), ("alt", e.get("alt")), ("cmd", e.get("meta")),
                                ("shift", e.get("shift") and len(key) != 1)) if on]
        self._emit(_Pending({"action": "key", "keys": [*mods, name]}, self._before))

    def _wheel(self, e: dict[str, Any]) -> None:
        p = self._pending
        if (p is not None and p.action["action"] == "scroll" and e["t"] - p.meta["t"] <= SCROLL_GAP_MS
                and math.dist(p.action["coordinate"], (e["x"], e["y"])) <= DRAG_PX):
            p.meta["dy"] += e["dy"]
            p.meta["t"] = e["t"]
            return
        self._emit(_Pending({"action": "scroll", "coordinate": (e["x"], e["y"])}, self._before,
                            meta={"dy": e["dy"], "t": e["t"]}))

    # -- steps --------------------------------------------------------------------------------------
    def _emit(self, pending: _Pending) -> None:
        """Write the open action (if any) and hold ``pending`` open in its place."""
        self._flush()
        self._pending = pending

    def _flush(self) -> None:
        p, self._pending = self._pending, None
        if p is None:
            return
        before = p.before
        geometry = Geometry.for_screenshot(before.screenshot_size, before.input_size, min_pixels=self.min_pixels,
                                           max_pixels=self.max_pixels, origin=before.origin)
        arguments = dict(p.action)
        if "coordinate" in arguments:
            model = geometry.to_model(ScreenPoint(*arguments["coordinate"]))
            arguments["coordinate"] = [round(model.x, 2), round(model.y, 2)]
        if arguments["action"] == "scroll":
            arguments["pixels"] = round(-p.meta["dy"] * geometry.model.height / geometry.input.height, 2)
        action = self.tool.validate(arguments)
        command = to_command(action, geometry)
        self.steps += 1
        shot = self.writer.save_screenshot(self.steps, before.screenshot)
        raw = "<tool_call>\n" + json.dumps({"name": self.tool.name, "arguments": action.to_json_dict()},
                                           ensure_ascii=False) + "\n</tool_call>"
        info = {"target_box": p.hit["box"], "target": p.hit["name"]} if p.hit else {}
        record = {"index": self.steps, "screenshot": shot, "geometry": geometry.to_dict(),
                  "image_tokens": geometry.image_tokens, "observation": before.info,
                  "attempts": [{"raw": raw, "feedback": None, "action": action.to_json_dict()}],
                  **_action_record(action, command),
                  "result": {"done": False, "outcome": None, "reason": "", "info": info},
                  "timings": {}, "demonstration": True}
        self.writer.append_step(record)

    def finish(self, status: str = "success") -> Path:
        """Close the last action, write a ``terminate`` step on the final screen and ``result.json``."""
        if self._finished:
            return self.out
        self._finished = True
        with contextlib.suppress(Exception):  # the browser may be gone already; what was recorded is kept
            self.poll()
        self._flush()
        final = self._before
        if final is not None:
            self._emit(_Pending({"action": "terminate", "status": status}, final))
            self._flush()
        self.writer.finish({"outcome": status, "reason": "the demonstration ended", "steps": self.steps,
                            "answer": None, "info": {}, "finished_at": _now(), "instruction": self.instruction})
        return self.out



class BrowserRecorder(DemonstrationRecorder):
    """Records input on ``env``'s page (a `BrowserEnvironment`). Create it before the page loads, or call
    ``attach``. Drive it with ``start()``, ``poll()`` (call it often, or ``run_until_closed``), ``finish()``."""

    def __init__(self, env: Any, out: str | Path, instruction: str = "", **options: Any) -> None:
        super().__init__(env, out, instruction or f"Repeat the demonstration recorded on {env.url or 'the page'}",
                         **options)
        env.context.expose_binding("__guiAgentRecord", lambda _source, event: self.events.append(event))
        env.context.add_init_script(RECORDER_SCRIPT)
        self.attach()

    def attach(self) -> None:
        """Install the listeners in the document already loaded (later documents get them by init script)."""
        self.env.page.evaluate(RECORDER_SCRIPT)

    def _arrived(self) -> None:
        self.env.page.evaluate("0")  # a round trip: bindings the page called before now have arrived

    def run_until_closed(self, interval_ms: int = 100, stop: Any = None) -> None:
        """Record until the person closes the browser window, or ``stop()`` turns true (Ctrl-C)."""
        while stop is None or not stop():
            try:
                self.env.page.wait_for_timeout(interval_ms)
                self.poll()
            except Exception:  # noqa: BLE001 - the window was closed: the demonstration is over
                return

    def _look(self) -> Observation:
        self.env.settle()
        return self.env.observe()


@contextlib.contextmanager
def recording(env: Any, out: str | Path, url: str, instruction: str = "") -> Iterator[BrowserRecorder]:
    """A started `BrowserRecorder` on ``env`` (a `BrowserEnvironment` made without a URL, so the listener is
    in place before the first document loads) after loading ``url``. Leaving the block normally writes the
    session (``finish``); ``env`` is closed either way (steps already recorded stay on disk)."""
    try:
        recorder = BrowserRecorder(env, out, instruction or f"Repeat the demonstration recorded on {url}")
        env.goto(url)
        recorder.start()
        yield recorder
        recorder.finish()
    finally:
        env.close()
