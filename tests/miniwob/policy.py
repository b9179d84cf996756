"""A test-only model that solves MiniWoB++ tasks from the live DOM and answers as Qwen2.5-VL would.

It reads the page (element boxes in CSS px, the instruction's quoted words), decides the next action
with a small per-task plan, maps the CSS px point to model space with `Geometry.for_screenshot` (the
same min/max pixels as the agent) and returns a ``<tool_call>`` TEXT, so every episode goes through the
real pipeline: parse -> validate -> map model -> CSS px -> execute in Chromium -> the page's reward.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agent.geometry import MAX_PIXELS, MIN_PIXELS, Geometry, ScreenPoint, Size
from agent.models.base import Generation
from agent.prompt import Prompt
from tasks.miniwob.task import TASK_AREA

Point = tuple[float, float]

# Centre of the first layout box of the first element matching the selector (and text, if given); the
# first client rect, not the bounding box, so a link wrapped over two lines is clicked on its text.
_CENTRE = """([selector, text, inner]) => {
  const all = [...document.querySelectorAll(selector)].filter(e => text === null || e.textContent.trim() === text);
  if (!all.length) return null;
  const el = inner ? all[0].querySelector(inner) : all[0];
  const r = el.getClientRects()[0];
  return r ? [r.x + r.width / 2, r.y + r.height / 2] : null;
}"""


@dataclass(frozen=True)
class Step:
    """One abstract action in CSS px; the policy turns it into model-space tool-call text."""

    action: str
    at: Point | None = None
    text: str | None = None
    keys: tuple[str, ...] = ()
    scroll_css: float = 0.0  # CSS px to scroll down
    seconds: float = 0.0


class DomPolicy:
    """The scripted model. ``page`` is the Playwright page the environment drives."""

    name = "dom-policy"

    def __init__(self, page: Any, scale: float, *, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> None:
        self.page = page
        self.geometry = Geometry.for_screenshot(
            Size(round(TASK_AREA.width * scale), round(TASK_AREA.height * scale)), TASK_AREA,
            min_pixels=min_pixels, max_pixels=max_pixels)
        self._plan: Iterator[Step] | None = None
        self.episodes: list[str] = []  # task id of every episode this policy was asked about, in order
        self.texts: list[str] = []

    def generate(self, prompt: Prompt) -> Generation:
        model_size = Size(*prompt.meta["model_size"])
        assert model_size == self.geometry.model, f"agent model size {model_size} != policy's {self.geometry.model}"
        assert prompt.images[-1].size == (model_size.width, model_size.height)
        if self.page.evaluate("() => window.__domPolicy === undefined"):  # a freshly loaded task page
            self.page.evaluate("() => { window.__domPolicy = true; }")
            task = self.page.url.rsplit("/", 1)[-1].removesuffix(".html")
            self.episodes.append(task)
            self._plan = PLANS[task](self.page)
        step = next(self._plan, None) if self._plan else None
        text = self.to_text(step or Step("terminate", text="failure"))
        self.texts.append(text)
        return Generation(text)

    def model_point(self, at: Point) -> list[int]:
        p = self.geometry.to_model(ScreenPoint(*at))
        return [round(p.x), round(p.y)]

    def to_text(self, step: Step) -> str:
        args: dict[str, Any] = {"action": step.action}
        if step.at is not None:
            args["coordinate"] = self.model_point(step.at)
        if step.action == "type":
            args["text"] = step.text
        elif step.action == "key":
            args["keys"] = list(step.keys)
        elif step.action == "scroll":
            args["pixels"] = round(-step.scroll_css * self.geometry.model.height / self.geometry.input.height)
        elif step.action == "wait":
            args["time"] = step.seconds
        elif step.action == "terminate":
            args["status"] = step.text
        return f'<tool_call>\n{json.dumps({"name": "computer_use", "arguments": args})}\n</tool_call>'

    def describe(self) -> dict[str, Any]:
        return {"backend": "dom-policy", "name": self.name}


# -- page reading -----------------------------------------------------------------------------------
def centre(page: Any, selector: str, text: str | None = None, inner: str | None = None) -> Point:
    found = page.evaluate(_CENTRE, [selector, text, inner])
    assert found is not None, f"no element {selector!r} with text {text!r} on {page.url}"
    return (found[0], found[1])


def utterance(page: Any) -> str:
    return page.evaluate("() => core.getUtterance()")


def quoted(page: Any) -> list[str]:
    return re.findall(r'"([^"]*)"', utterance(page))


def bold(page: Any) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('#query .bold')].map(e => e.textContent)")


def click(page: Any, selector: str, text: str | None = None, inner: str | None = None) -> Step:
    return Step("left_click", centre(page, selector, text, inner))


# -- plans: one generator per task, reading the page lazily at every step ---------------------------
def click_button(page):
    yield click(page, "#area button", quoted(page)[0])


def click_link(page):
    yield click(page, "#area .alink", quoted(page)[0])


def _selected_names(page) -> list[str]:
    names = utterance(page).removeprefix("Select ").removesuffix(" and click Submit.")
    return [] if names == "nothing" else names.split(", ")


def click_checkboxes(page):
    for name in _selected_names(page):
        yield click(page, "#boxes label", name, "input")
    yield click(page, "#subbtn")


def click_option(page):
    yield click(page, "#boxes label", _selected_names(page)[0], "input")
    yield click(page, "#subbtn")


def enter_text(page):
    yield click(page, "#tt")
    yield Step("type", text=bold(page)[0])
    yield click(page, "#subbtn")


def focus_text(page):
    yield click(page, "#tt")


def choose_list(page):
    name = utterance(page).removeprefix("Select ").removesuffix(" from the list and click Submit.")
    yield click(page, "#options")  # headless Chromium draws no popup; type-ahead picks the option
    yield Step("type", text=name)
    yield Step("key", keys=("enter",))
    yield click(page, "#area button", "Submit")


def click_dialog(page):
    yield click(page, "button.ui-dialog-titlebar-close")


def click_tab(page):
    number = re.search(r"Tab #(\d)", utterance(page)).group(1)
    yield click(page, f'#area ul a[href="#tabs-{number}"]')


def enter_password(page):
    password = bold(page)[0]
    for field in ("#password", "#verify"):
        yield click(page, field)
        yield Step("type", text=password)
    yield click(page, "#subbtn")


def login_user(page):
    user, password = quoted(page)
    yield click(page, "#username")
    yield Step("type", text=user)
    yield click(page, "#password")
    yield Step("type", text=password)
    yield click(page, "#subbtn")


def use_autocomplete(page):
    parts = bold(page)
    start, end = parts[0], parts[1] if len(parts) > 1 else ""
    yield click(page, "#tags")
    yield Step("type", text=start)
    for _ in range(10):  # the menu opens after the widget's delay: wait for it, as a model would
        items = page.evaluate("() => [...document.querySelectorAll('.ui-menu-item')]"
                              ".filter(e => e.offsetParent !== null).map(e => e.textContent.trim())")
        if items:
            break
        yield Step("wait", seconds=0.3)
    choice = next(i for i in items if i.endswith(end))
    at = centre(page, ".ui-menu-item", choice)
    if at[1] < TASK_AREA.height - 4:
        yield Step("left_click", at)
    else:  # below the visible area: finish typing instead and close the menu
        yield Step("type", text=choice[len(start):])
        yield Step("key", keys=("esc",))
    yield click(page, "#subbtn")


def scroll_text(page):
    box = centre(page, "#text-area")
    for _ in range(4):
        top, height, client = page.evaluate(
            "() => { const t = document.getElementById('text-area'); return [t.scrollTop, t.scrollHeight, t.clientHeight]; }")
        if top + client >= height - 1:
            break
        yield Step("scroll", box, scroll_css=height)
    else:
        yield Step("terminate", text="failure")  # scrolling never reached the end: let the test fail
    last = page.evaluate("() => document.getElementById('text-area').value").split()[-1].strip(".")
    yield click(page, "#answer-input")
    yield Step("type", text=last)
    yield click(page, "#subbtn")


def drag_box(page):
    small, large = (page.evaluate(f"() => {{ const e = document.getElementById('{i}'); "
                                  "return [parseInt(e.style.left), parseInt(e.style.top)]; }")
                    for i in ("draggableSmall", "draggableLarge"))
    start = centre(page, "#draggableSmall")
    end = (start[0] + large[0] + 15 - small[0], start[1] + large[1] + 15 - small[1])
    yield Step("mouse_move", start)
    yield Step("left_click_drag", end)
    yield click(page, "#subbtn")


def click_collapsible(page):
    yield click(page, "#area h3")
    for _ in range(10):
        if page.evaluate("() => $('.ui-accordion-content:visible').length === 1 && !$('.ui-accordion-content').is(':animated')"):
            break
        yield Step("wait", seconds=0.2)
    yield click(page, "#subbtn")


PLANS: dict[str, Callable[[Any], Iterator[Step]]] = {
    "click-button": click_button,
    "click-link": click_link,
    "click-checkboxes": click_checkboxes,
    "click-option": click_option,
    "enter-text": enter_text,
    "focus-text": focus_text,
    "choose-list": choose_list,
    "click-dialog": click_dialog,
    "click-tab": click_tab,
    "enter-password": enter_password,
    "login-user": login_user,
    "use-autocomplete": use_autocomplete,
    "scroll-text": scroll_text,
    "drag-box": drag_box,
    "click-collapsible": click_collapsible,
}
