"""Assertions kept with a recording (``assertions.json``) and checked on the live app during a replay.

Three kinds: ``text_visible`` (after step N the text X is on screen: the page's rendered text in the
browser, no OCR; elsewhere the model answers a yes/no question), ``url`` (a regular expression searched
in the page's URL after step N, or at the end), ``final_screen`` (the last live screen matches the
recording's last screen, with masks). An assertion that fails fails the replay: it is never healed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agent.errors import ConfigError
from agent.regression.similarity import DEFAULT_THRESHOLD

FILE = "assertions.json"


class _Assertion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextVisible(_Assertion):
    kind: Literal["text_visible"] = "text_visible"
    after_step: int = Field(ge=1)
    text: str = Field(min_length=1)

    def describe(self) -> str:
        return f"after step {self.after_step} the text {self.text!r} is visible"


class UrlMatches(_Assertion):
    kind: Literal["url"] = "url"
    pattern: str
    after_step: int | None = Field(default=None, ge=1)  # None: at the end of the replay

    def describe(self) -> str:
        when = f"after step {self.after_step}" if self.after_step else "at the end"
        return f"{when} the URL matches /{self.pattern}/"


class FinalScreen(_Assertion):
    kind: Literal["final_screen"] = "final_screen"
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0, le=1)
    masks: list[tuple[float, float, float, float]] = Field(default_factory=list)
    mask_selectors: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        masked = f" (masked: {len(self.masks)} boxes, {', '.join(self.mask_selectors) or 'no selectors'})"
        return f"the final screen matches the recording's at similarity >= {self.threshold}" + masked


Assertion = Annotated[Union[TextVisible, UrlMatches, FinalScreen], Field(discriminator="kind")]  # noqa: UP007
_LIST = TypeAdapter(list[Assertion])


def load(session: Path) -> list[Assertion]:
    """The session's assertions (none when it has no ``assertions.json``)."""
    path = Path(session) / FILE
    if not path.is_file():
        return []
    try:
        return _LIST.validate_python(json.loads(path.read_text("utf-8")).get("assertions", []))
    except (ValidationError, json.JSONDecodeError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a valid assertions file: {exc}; fix or delete it") from None


def save(session: Path, assertions: list[Assertion]) -> None:
    from agent.trajectory import write_json_atomic

    write_json_atomic(Path(session) / FILE, {"assertions": [a.model_dump(mode="json") for a in assertions]})


def add(session: Path, assertion: Assertion) -> list[Assertion]:
    """Append ``assertion`` to the session's file; checks its step exists in the recording."""
    from agent.trajectory import Trajectory

    steps = [s for s in Trajectory.load(session).steps if s.get("action")]
    step = getattr(assertion, "after_step", None)
    if step is not None and not 1 <= step <= len(steps):
        raise ConfigError(f"--after-step {step}: the recording has steps 1 to {len(steps)}")
    assertions = [*load(session), assertion]
    save(session, assertions)
    return assertions


def text_visible(env: Any, text: str, ask_model: Any = None, observation: Any = None) -> tuple[bool, str]:
    """Whether ``text`` is rendered: the DOM's visible text in the browser, else the model's yes/no."""
    page = page_of(env)
    if page is not None:
        found = page.evaluate("(t) => (document.body ? document.body.innerText : '').includes(t)", text)
        return bool(found), "found in the page's visible text" if found else "not in the page's visible text"
    if ask_model is None:
        return False, "this environment has no DOM; a model is needed to answer whether the text is visible"
    answer = ask_model(f'Is the text "{text}" visible on the screen? Answer yes or no with the answer action.',
                       observation)
    yes = answer.strip().lower().startswith("yes")
    return yes, f"the model answered {answer!r}"


def url_matches(env: Any, pattern: str, observation: Any = None) -> tuple[bool, str]:
    page = page_of(env)
    url = page.url if page is not None else (getattr(observation, "info", None) or {}).get("url")
    if url is None:
        return False, "this environment has no URL"
    try:
        ok = re.search(pattern, url) is not None
    except re.error as exc:
        return False, f"bad pattern {pattern!r}: {exc}"
    return ok, f"the URL is {url}"


def page_of(env: Any) -> Any:
    """The Playwright page under ``env`` (through its wrappers), or None when it is not a browser."""
    inner = getattr(env, "unwrapped", env)
    seen = 0
    while not hasattr(inner, "page") and hasattr(inner, "env") and seen < 20:
        inner, seen = inner.env, seen + 1
    return getattr(inner, "page", None)
