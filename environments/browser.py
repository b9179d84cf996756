"""`BrowserEnvironment`: Chromium driven through Playwright, screenshots in physical pixels.

Three spaces are kept apart: the screenshot is ``viewport * device_scale_factor`` physical pixels, input
is given in CSS pixels of the viewport (Playwright's mouse space), and the model's space is whatever the
loop resized the screenshot to; the loop maps model -> CSS px through `agent.geometry.Geometry`.

After every action the page is left to settle by observation, not by a fixed sleep: a small script
installed in every document counts DOM mutations, running finite animations, fetch/XHR in flight and
pending cross-document navigations; the settle waits until all are quiet (bounded) and reports the time.
"""

from __future__ import annotations

import base64
import contextlib
import io
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from PIL import Image
from tenacity import retry, retry_if_exception_message, stop_after_delay, wait_fixed

from agent.argtypes import positive_float
from agent.errors import ActionValidationError, ConfigError, EnvironmentFailure
from agent.geometry import ScreenPoint, Size
from environments.base import Command, EnvironmentBase, Observation, StepResult
from environments.browser_keys import to_playwright_keys
from environments.chromium import (  # noqa: F401
    find_chromium,
    launch_browser,
    launch_error,
    sandbox_decision,
    start_playwright,
)

if TYPE_CHECKING:
    import argparse

DEFAULT_VIEWPORT = Size(1280, 720)
SETTLE_QUIET_MS = 40  # no DOM mutation for this long counts as settled
SETTLE_TIMEOUT_MS = 3000  # a page that never settles (spinners, tickers) is observed anyway after this
NAVIGATION_TIMEOUT_MS = 15000
JPEG_QUALITY = 90
_HERE = Path(__file__).parent
SETTLE_SCRIPT = (_HERE / "webapps" / "settle.js").read_text("utf-8")


class BrowserGone(EnvironmentFailure):
    """The page crashed or the browser was closed; the episode cannot go on."""


class PageLoadFailed(EnvironmentFailure):
    """A page given to ``goto`` (or ``--url``) did not load: unreachable, refused, timed out."""


class BrowserEnvironment(EnvironmentBase):
    """One Chromium page at a fixed viewport and scale factor.

    ``.page`` is the Playwright `Page` (for task suites that read page state); ``goto(url)`` navigates
    and waits for the page to settle. ``reset()`` does not reload: it observes the page as it is (after
    loading ``url`` if nothing was loaded yet), so a suite can prepare the page before the episode.
    """

    tool = "computer_use"

    def __init__(
        self,
        url: str | None = None,
        viewport: Size = DEFAULT_VIEWPORT,
        device_scale_factor: float = 1.0,
        headless: bool = True,
        allow_domains: tuple[str, ...] = (),
        user_data_dir: str | None = None,
        *,
        image_format: str = "jpeg",
        settle_timeout_ms: int = SETTLE_TIMEOUT_MS,
        browser: Any = None,
        sandbox: bool = True,
    ) -> None:
        if device_scale_factor <= 0:
            raise ConfigError(f"--device-scale-factor must be positive, got {device_scale_factor}")
        if image_format not in ("jpeg", "png"):
            raise ValueError(f"image_format must be jpeg or png, got {image_format!r}")
        self.url, self.viewport, self.scale = url, viewport, float(device_scale_factor)
        self.headless, self.user_data_dir = headless, user_data_dir
        self.sandbox = sandbox_decision(disable=not sandbox) if browser is None else None  # a shared one: its owner's
        self.allow_domains = tuple(d.lower().lstrip(".") for d in allow_domains)
        self.image_format, self.settle_timeout_ms = image_format, settle_timeout_ms
        self.cursor = ScreenPoint(0, 0)
        self.blocked: list[str] = []  # navigations refused by the allowlist, newest last
        self.dialogs: list[dict[str, str]] = []  # JavaScript dialogs met, dismissed
        self._told = (0, 0)  # how many of each are already in a step's info
        self._gone: str | None = None
        self._loaded = False
        if url and not self.allowed(url):
            raise ConfigError(f"--url {url} is not inside the --allow-domain list {list(self.allow_domains)}; "
                              "add its domain with --allow-domain or start from an allowed page")
        self._start(browser)

    # -- lifecycle ----------------------------------------------------------------------------------
    def _start(self, shared: Any) -> None:
        context_options = {"viewport": {"width": self.viewport.width, "height": self.viewport.height},
                           "device_scale_factor": self.scale}
        self._playwright = self.browser = None
        if shared is not None:  # a browser owned by the caller: this environment owns one context of it
            self.context = shared.new_context(**context_options)
        else:
            self._playwright, options = start_playwright(self.headless, self.sandbox)
            try:
                if self.user_data_dir:
                    self.context = self._playwright.chromium.launch_persistent_context(
                        self.user_data_dir, **options, **context_options)
                else:
                    self.browser = self._playwright.chromium.launch(**options)
                    self.context = self.browser.new_context(**context_options)
            except Exception as exc:
                self._playwright.stop()
                raise launch_error(options, exc) from None
        self.context.add_init_script(SETTLE_SCRIPT)
        if self.allow_domains:
            self.context.route("**/*", self._route)
        self.context.on("close", lambda *_: self._mark_gone("the browser was closed"))
        self._newest: Any = None  # a tab the page opened (target=_blank, window.open), adopted at the next look
        self.context.on("page", self._opened)
        self._adopt(self.context.pages[0] if self.context.pages else self.context.new_page())

    def _adopt(self, page: Any) -> None:
        """Make ``page`` the one observed and acted on (the model sees one tab: the newest)."""
        self.page, self._newest = page, None
        page.on("crash", lambda *_: self._mark_gone("the page crashed"))
        page.on("close", self._closed)
        page.on("dialog", self._dialog)
        self._cdp = self.context.new_cdp_session(page)

    def _dialog(self, dialog: Any) -> None:
        """alert/confirm/prompt are dismissed (Playwright's default, kept on purpose: a confirm may guard
        something destructive) and reported in the step's info, so the trajectory shows they happened."""
        self.dialogs.append({"type": dialog.type, "message": dialog.message})
        with contextlib.suppress(Exception):
            dialog.dismiss()

    def _opened(self, page: Any) -> None:
        self._newest = page

    def _closed(self, page: Any) -> None:
        if page is self.page and self._newest is None:
            others = [p for p in self.context.pages if p is not page and not p.is_closed()]
            if others:
                self._newest = others[-1]  # window.close(): go back to the tab that is left
            else:
                self._mark_gone("the page was closed")

    def close(self) -> None:
        for closer in (getattr(self, "context", None), getattr(self, "browser", None),
                       getattr(self, "_playwright", None)):  # the shared browser's owner closes it
            if closer is None:
                continue
            with contextlib.suppress(Exception):  # already gone is fine when closing
                (closer.stop if hasattr(closer, "stop") else closer.close)()
        self._playwright = None

    def _mark_gone(self, reason: str) -> None:
        self._gone = self._gone or reason

    def _check(self) -> None:
        if self._gone:
            raise BrowserGone(f"{self._gone}; the episode cannot continue")
        if self._newest is not None and not self._newest.is_closed():
            try:
                self._adopt(self._newest)
                self.page.bring_to_front()
            except Exception as exc:
                raise self._failure(exc) from None
            self.settle()

    def _tab_closed(self) -> bool:
        """After an error: True when only the observed tab closed and another is left to adopt."""
        if self._gone or self.context.browser and not self.context.browser.is_connected():
            return False
        if not self.page.is_closed():
            with contextlib.suppress(Exception):
                self.page.wait_for_event("close", timeout=500)
        others = [p for p in self.context.pages if not p.is_closed()]
        if not self.page.is_closed() or not others:
            return False
        self._gone = None
        self._adopt(others[-1])
        return True

    def _failure(self, exc: Exception) -> Exception:
        """Turn a Playwright error into `BrowserGone` when the browser or page went away."""
        text = str(exc)
        if self._gone or "closed" in text or "crash" in text.lower() or "Target" in text:
            self._mark_gone(f"the browser went away ({text.splitlines()[0]})")
            return BrowserGone(f"{self._gone}; the episode cannot continue")
        return exc

    # -- navigation ---------------------------------------------------------------------------------
    def allowed(self, url: str) -> bool:
        """Whether navigation to ``url`` is inside the allowlist (everything is when none is given)."""
        if not self.allow_domains:
            return True
        parts = urlsplit(url)
        if parts.scheme in ("about", "data", "blob", "chrome-error") or url == "about:blank":
            return parts.scheme != "data"
        host = (parts.hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.allow_domains)

    def _route(self, route, request) -> None:
        if not request.is_navigation_request() or self.allowed(request.url):
            route.fallback()
            return
        self.blocked.append(request.url)
        route.fulfill(status=403, content_type="text/html", body=blocked_page(request.url, self.allow_domains))

    def goto(self, url: str) -> None:
        """Navigate the page to ``url`` and wait until it has loaded and settled."""
        self._check()
        if not self.allowed(url):
            raise ConfigError(f"{url} is outside the --allow-domain list {list(self.allow_domains)}")
        try:
            self.page.goto(url, wait_until="load", timeout=NAVIGATION_TIMEOUT_MS)
        except Exception as exc:
            failure = self._failure(exc)
            if isinstance(failure, BrowserGone):
                raise failure from None
            raise PageLoadFailed(f"could not load {url}: {str(exc).splitlines()[0]}") from None
        self.url, self._loaded = url, True
        self.settle()

    # -- Environment --------------------------------------------------------------------------------
    def reset(self) -> Observation:
        if self.url and not self._loaded:
            self.goto(self.url)
        self.blocked.clear()
        self._told = (0, len(self.dialogs))
        return self.observe()

    def observe(self) -> Observation:
        self._check()
        t = time.perf_counter()
        try:
            image = self.capture()
        except Exception as exc:
            if not self._tab_closed():
                raise self._failure(exc) from None
            return self.observe()
        info = {"url": self.page.url, "capture_ms": round((time.perf_counter() - t) * 1000, 2),
                "cursor": [self.cursor.x, self.cursor.y]}
        return Observation(image, self.viewport, info=info)

    @retry(retry=retry_if_exception_message(match=r"(?s).*Unable to capture screenshot"), stop=stop_after_delay(3),
           wait=wait_fixed(0.05), reraise=True)
    def capture(self) -> Image.Image:
        """The viewport in physical pixels, through the DevTools protocol (Playwright's own screenshot
        adds font and caret waits that cost 1.5-4x; see tests/bench/bench_browser.py). A page that has not
        composited its first frame yet (a new tab, about:blank) makes Chromium answer "Unable to capture
        screenshot": that is retried for up to 3 s, any other error is not."""
        params: dict[str, Any] = {
            "format": self.image_format,
            "clip": {"x": 0, "y": 0, "width": self.viewport.width, "height": self.viewport.height, "scale": self.scale},
        }
        if self.image_format == "jpeg":
            params["quality"] = JPEG_QUALITY
        data = base64.b64decode(self._cdp.send("Page.captureScreenshot", params)["data"])
        image = Image.open(io.BytesIO(data))
        image.load()
        return image if image.mode == "RGB" else image.convert("RGB")

    def execute(self, command: Command) -> StepResult:
        self._check()
        name = command.name
        keys = to_playwright_keys(command.action.keys) if name == "key" else None  # validate before acting
        info: dict[str, Any] = {}
        t = time.perf_counter()
        try:
            info.update(self._perform(command, keys))
            info["execute_ms"] = round((time.perf_counter() - t) * 1000, 2)
            info.update(self.settle())
        except (ActionValidationError, BrowserGone):
            raise
        except Exception as exc:
            if not self._tab_closed():
                raise self._failure(exc) from None
            info["tab_closed"] = True  # the action closed its tab; the next look shows the one left
        return StepResult(info=info | self._untold())

    def _untold(self) -> dict[str, Any]:
        """Navigations refused and dialogs dismissed that no step has reported yet, for this step's info
        (Playwright runs their handlers whenever it is called: during the action, its settle, or the
        screenshot after it)."""
        info: dict[str, Any] = {}
        blocked, dialogs = self._told
        if len(self.blocked) > blocked:
            info["blocked_navigation"] = self.blocked[blocked:]
        if len(self.dialogs) > dialogs:
            info["dialogs_dismissed"] = self.dialogs[dialogs:]
        self._told = (len(self.blocked), len(self.dialogs))
        return info

    def _perform(self, command: Command, keys: list[str] | None) -> dict[str, Any]:
        mouse, name, action = self.page.mouse, command.name, command.action
        info: dict[str, Any] = {}
        if command.point is not None and name != "left_click_drag":
            info.update(self._element_at(command.point))
            if name in _MOVES_ITSELF:  # Playwright's click moves the mouse there first: one move, not two
                self.cursor = command.point
            else:
                self._move(command.point)
        if name in ("left_click", "right_click", "middle_click"):
            mouse.click(self.cursor.x, self.cursor.y, button=name.split("_")[0])
        elif name == "double_click":
            mouse.dblclick(self.cursor.x, self.cursor.y)
        elif name == "left_click_drag":
            start, end = self.cursor, command.point
            mouse.down()
            mouse.move(end.x, end.y, steps=max(2, min(20, round(abs(end.x - start.x) + abs(end.y - start.y)) // 20)))
            mouse.up()
            self.cursor = end
            info.update(self._element_at(end))
        elif name == "type":
            self.page.keyboard.type(action.text)
        elif name == "key":
            for key in keys:
                self.page.keyboard.down(key)
            for key in reversed(keys):
                self.page.keyboard.up(key)
        elif name == "scroll":
            seen = self.page.evaluate("window.__guiAgent ? window.__guiAgent.state.wheels : null")
            mouse.wheel(0, -(command.scroll_pixels or 0.0))  # the model's positive pixels scroll up
            if seen is not None:  # the wheel event arrives asynchronously: see it land before settling
                info["wheel_seen"] = self.page.evaluate("(n) => window.__guiAgent.wheelSeen(n, 1000)", seen)
        elif name != "mouse_move":
            raise ActionValidationError(f"the action {name!r} is not available in the browser")
        return info

    def pause(self, seconds: float) -> dict[str, Any]:
        """The framework's ``wait``: Playwright's own wait keeps routes, dialogs and new tabs served; what
        they met meanwhile (a refused navigation, a dialog) goes into the step's info."""
        self._check()
        info: dict[str, Any] = {}
        try:
            self.page.wait_for_timeout(seconds * 1000)
            info.update(self.settle())  # a navigation the wait let happen is finished before the next look
        except BrowserGone:
            raise
        except Exception as exc:
            if not self._tab_closed():
                raise self._failure(exc) from None
            info["tab_closed"] = True
        return info | self._untold()

    def _move(self, point: ScreenPoint) -> None:
        self.page.mouse.move(point.x, point.y)
        self.cursor = point

    def _element_at(self, point: ScreenPoint) -> dict[str, Any]:
        """The box (CSS px) and a short name of the element under ``point``, for the trajectory."""
        found = self.page.evaluate("([x, y]) => window.__guiAgent ? window.__guiAgent.hit(x, y) : null",
                                   [point.x, point.y])
        return {"target_box": found["box"], "target": found["name"]} if found else {}

    def settle(self) -> dict[str, Any]:
        """Wait (bounded) until no navigation, request, DOM mutation or animation is in progress; where a
        visible canvas, video or frame can change pixels the page script cannot see, also until two small
        screenshots of the region they cover agree (hidden ones, as on every MiniWoB++ page, cost nothing).

        A DOM change counts as over after 40 ms without another, or after two rendered frames when nothing
        is left to run: no timeout due within those 40 ms, no frame or idle callback, no short interval,
        no image or font loading, and no source the page script cannot follow (workers, sockets, message
        channels, frames). ``settle_quiet`` says which: "frames" (nothing was left) or "window"."""
        t = time.perf_counter()
        deadline = t + self.settle_timeout_ms / 1000
        busy: str | None = "unknown"
        by, quiet = "page", "window"
        while True:
            remaining = max(1, round((deadline - time.perf_counter()) * 1000))
            try:
                state = self.page.evaluate(
                    "([q, t]) => window.__guiAgent ? window.__guiAgent.settle(q, t) : "  # no script: pixels only
                    "(document.readyState === 'complete' ? {busy: null, opaque: true} : {busy: 'loading'})",
                    [SETTLE_QUIET_MS, remaining])
                busy = state["busy"]
            except Exception as exc:
                if not _navigated(exc):
                    raise
                busy, state = "navigation", {}
            if busy == "popup":  # the page opened a tab: wait for the browser to report it, adopt it next look
                if self._newest is None:
                    with contextlib.suppress(Exception):
                        self.context.wait_for_event("page", timeout=remaining)
                with contextlib.suppress(Exception):
                    self.page.evaluate("window.__guiAgent && window.__guiAgent.popupSeen()")
                busy = None if self._newest is not None else "popup"
                break
            if busy in ("navigation", "loading") and time.perf_counter() < deadline:
                try:  # a new document is on its way: wait for it by the browser's own event
                    self.page.wait_for_load_state("load", timeout=remaining)
                except Exception as exc:
                    if not _navigated(exc) and "Timeout" not in str(exc):
                        raise
                continue
            quiet = "frames" if state.get("early") else "window"
            if busy is None and state.get("opaque"):
                by = "page+screenshot"
                region = state["opaque"] if isinstance(state["opaque"], list) else None  # True: no script, all
                if not self._pixels_stable(deadline, region):
                    busy = "pixels"
            break
        ms = round((time.perf_counter() - t) * 1000, 2)
        return {"settle_ms": ms, "settled": busy is None, "settle_by": by, "settle_quiet": quiet} | (
            {"busy": busy} if busy else {})

    def _pixels_stable(self, deadline: float, region: list[float] | None = None) -> bool:
        """Small screenshots of ``region`` (CSS px; None: the viewport) until two in a row agree (a blinking
        caret is allowed), or the deadline."""
        previous = None
        while True:
            frame = self._thumbnail(region)
            if previous is not None and _same(previous, frame):
                return True
            if time.perf_counter() >= deadline:
                return False
            previous = frame
            self.page.evaluate(_TWO_FRAMES)  # let the page render at least one new frame in between

    def _thumbnail(self, region: list[float] | None = None):
        import numpy as np

        x0, y0, x1, y1 = region or (0, 0, self.viewport.width, self.viewport.height)
        clip = {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0, "scale": min(1.0, 256 / max(x1 - x0, y1 - y0))}
        data = self._cdp.send("Page.captureScreenshot", {"format": "jpeg", "quality": 60, "clip": clip})["data"]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"), dtype=np.int16)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "browser", "url": self.url, "viewport": str(self.viewport), "device_scale_factor": self.scale,
            "headless": self.headless, "allow_domains": list(self.allow_domains),
            "user_data_dir": self.user_data_dir, "image_format": self.image_format,
            "browser_version": self.context.browser.version if self.context.browser else None,
            "sandbox": self.sandbox.to_dict() if self.sandbox else "shared browser",
        }


_MOVES_ITSELF = ("left_click", "right_click", "middle_click", "double_click")
_TWO_FRAMES = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def _same(a, b) -> bool:
    """Two thumbnails agree when under 0.1% of their pixels differ visibly (a caret, JPEG noise)."""
    return a.shape == b.shape and float((abs(a - b).max(axis=2) > 24).mean()) < 0.001


def _navigated(exc: Exception) -> bool:
    text = str(exc)
    return "Execution context was destroyed" in text or "navigation" in text.lower()


def blocked_page(url: str, allowed: tuple[str, ...]) -> str:
    """The page shown instead of a refused navigation: the model reads it in the next screenshot."""
    from html import escape

    return (
        "<!doctype html><title>Blocked</title><body style='font:20px sans-serif;margin:40px'>"
        f"<h1>Navigation blocked</h1><p>The page <b>{escape(url)}</b> is outside the allowed domains "
        f"({escape(', '.join(allowed))}).</p><p>Go back (alt+Left) and stay on the allowed site.</p></body>"
    )


# -- CLI ----------------------------------------------------------------------------------------------
def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--url", default=None, help="page to open first (browser)")
    group.add_argument("--viewport", default="1280x720", help="browser viewport in CSS px, WxH (default 1280x720)")
    group.add_argument("--device-scale-factor", type=positive_float, default=1.0,
                       help="browser device pixel ratio: 1 (default), 1.25, 1.5, 2 ... (screenshots are viewport x this)")
    group.add_argument("--allow-domain", action="append", default=[], metavar="DOMAIN",
                       help="only allow navigation to DOMAIN and its subdomains (repeatable)")
    group.add_argument("--user-data-dir", default=None, help="persistent browser profile directory")
    group.add_argument("--headed", action="store_true", help="show the browser window (needs DISPLAY)")
    group.add_argument("--no-browser-sandbox", action="store_true",
                       help="run Chromium without its sandbox (it is turned off by itself only as root or where it "
                            "cannot start; recorded in run.json)")


def from_args(args: argparse.Namespace) -> BrowserEnvironment:
    """The browser the options name, with ``--url`` already loaded: a page that does not load is the
    user's to fix (exit 2 with what went wrong), not an episode error."""
    try:
        viewport = Size.parse(args.viewport)
    except ValueError as exc:
        raise ConfigError(f"--viewport: {exc}") from None
    url = page_url(args.url) if args.url else None
    env = BrowserEnvironment(url, viewport, args.device_scale_factor, headless=not args.headed,
                             allow_domains=tuple(args.allow_domain), user_data_dir=args.user_data_dir,
                             sandbox=not args.no_browser_sandbox)
    if url:
        try:
            env.goto(url)
        except PageLoadFailed as exc:
            env.close()
            raise ConfigError(f"--url {args.url} did not load ({exc}). Check that the page's server runs and the "
                              "address is right (e.g. http://127.0.0.1:8001/demo/), or give a local file's path."
                              ) from None
        except BaseException:
            env.close()
            raise
    return env


def page_url(text: str) -> str:
    """``--url`` as a URL: a path to a local file (``page.html``, ``./site/index.html``) becomes ``file://``."""
    if urlsplit(text).scheme in ("http", "https", "file", "about", "data", "chrome"):
        return text
    path = Path(text).expanduser()
    if path.is_file():
        return path.resolve().as_uri()
    if path.is_dir() and (path / "index.html").is_file():
        return (path / "index.html").resolve().as_uri()
    if "/" in text.split("?")[0].rstrip("/") or text.endswith((".html", ".htm")) or text.startswith((".", "~")):
        raise ConfigError(f"--url {text}: no such file; give an existing HTML file or a URL such as http://host/page")
    return f"http://{text}"  # example.com, localhost:8000: what a browser's address bar would do
