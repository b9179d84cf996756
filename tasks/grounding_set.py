"""Build a ScreenSpot-v2-layout grounding set from web pages rendered in Chromium (your app's own test set).

Each page is rendered at each viewport; every visible, unoccluded interactive element with an accessible
name becomes a sample ``{img_filename, instruction, bbox [x, y, w, h], data_type, data_source}`` (``text``
when the element shows text, else ``icon``). Names that occur twice on one screen are ambiguous and
dropped. The output directory feeds ``gui-agent eval screenspot --data OUT`` directly.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.argtypes import positive_float
from agent.errors import ConfigError
from agent.geometry import Size

if TYPE_CHECKING:
    from rich.console import Console

ANNOTATIONS = "screenspot_web_v2.json"
MANIFEST = "manifest.json"
IMAGES = "images"
DEFAULT_VIEWPORTS = (Size(1280, 720),)

# Runs in the page: the interactive elements a user could click, with what a person would call them.
COLLECT_JS = r"""() => {
  const SELECTOR = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [contenteditable=""], ' +
    '[contenteditable=true], [onclick], [tabindex]:not([tabindex="-1"]), [role=button], [role=link], [role=tab], ' +
    '[role=checkbox], [role=radio], [role=switch], [role=menuitem], [role=option], [role=combobox], [role=textbox]';
  const clean = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const textOf = (ids) => ids.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean)
    .map((e) => e.innerText || e.textContent).join(' ');
  const role = (el) => {
    const explicit = el.getAttribute('role');
    if (explicit) return explicit;
    const tag = el.tagName.toLowerCase(), type = (el.getAttribute('type') || 'text').toLowerCase();
    if (tag === 'a') return 'link';
    if (tag === 'select') return 'combobox';
    if (tag === 'textarea') return 'textbox';
    if (tag === 'input') {
      if (['button', 'submit', 'reset', 'image'].includes(type)) return 'button';
      if (['checkbox', 'radio', 'range'].includes(type)) return type === 'range' ? 'slider' : type;
      return type === 'search' ? 'searchbox' : 'textbox';
    }
    return tag === 'button' || tag === 'summary' ? 'button' : 'element';
  };
  const name = (el) => {
    if (el.getAttribute('aria-labelledby')) return clean(textOf(el.getAttribute('aria-labelledby')));
    if (el.getAttribute('aria-label')) return clean(el.getAttribute('aria-label'));
    const labelText = el.labels ? clean([...el.labels].map((l) => l.innerText).join(' ')) : '';
    if (labelText) return labelText;
    const tag = el.tagName.toLowerCase();
    if (tag === 'input' && ['button', 'submit', 'reset'].includes(el.type)) return clean(el.value);
    if ((tag === 'input' || tag === 'textarea') && clean(el.placeholder || el.title)) return clean(el.placeholder || el.title);
    const text = clean(el.innerText);
    if (text) return text;
    const labelled = el.querySelector('[aria-label], img[alt], svg title, [title]');
    if (labelled) return clean(labelled.getAttribute('aria-label') || labelled.getAttribute('alt') ||
                                labelled.getAttribute('title') || labelled.textContent);
    return clean(el.title) || nearbyText(el);
  };
  // An unlabelled control (a switch in a settings row): the first line of the smallest enclosing block
  // that holds text and no other control, as a person would name it by what is written beside it.
  const nearbyText = (el) => {
    let node = el.parentElement;
    for (let depth = 0; node && depth < 3; depth++, node = node.parentElement) {
      if (node.querySelectorAll(SELECTOR).length > 1) return '';
      const line = (node.innerText || '').split('\n').map(clean).find(Boolean);
      if (line) return line;
    }
    return '';
  };
  const shownText = (el) => {
    const tag = el.tagName.toLowerCase();
    if (tag === 'input' || tag === 'textarea') {
      if (['checkbox', 'radio', 'range', 'color', 'file'].includes(el.type)) return '';
      return clean(el.value && el.type !== 'password' ? el.value : el.value ? '' : el.placeholder);
    }
    if (tag === 'select') return clean(el.selectedOptions.length ? el.selectedOptions[0].text : '');
    return clean(el.innerText);
  };
  const visible = (el) => el.checkVisibility ?
    el.checkVisibility({opacityProperty: true, visibilityProperty: true}) :
    getComputedStyle(el).visibility === 'visible';
  const found = [], taken = new Set();
  for (const el of document.querySelectorAll(SELECTOR)) {
    const outer = el.parentElement && el.parentElement.closest(SELECTOR);
    if (outer && taken.has(outer)) continue;  // a link inside a button is the button
    if (el.disabled) continue;
    const labels = el.labels ? [...el.labels] : [];
    const big = (e) => { const b = e.getBoundingClientRect(); return b.width >= 4 && b.height >= 4; };
    let shown = el;  // a visually hidden checkbox styled through its label (a switch): the label is what shows
    if (!(visible(el) && big(el))) shown = labels.find((l) => visible(l) && big(l)) || null;
    if (!shown) continue;
    const r = shown.getBoundingClientRect();
    if (r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight) continue;  // wholly on screen
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!hit || !(el.contains(hit) || labels.some((l) => l.contains(hit)))) continue;  // covered by something
    taken.add(el);
    found.push({role: role(el), name: name(el).slice(0, 80), text: shownText(el).slice(0, 80),
                tag: el.tagName.toLowerCase(), id: el.id || '',
                box: [r.left, r.top, r.right, r.bottom]});
  }
  return found;
}"""

ROLE_WORDS = {"textbox": "text box", "searchbox": "search box", "combobox": "drop-down", "menuitem": "menu item",
              "element": "element"}


@dataclass(frozen=True)
class Screen:
    """One page state to capture: a URL, and for the demo app a script that brings the page there."""

    name: str
    url: str
    setup: str = ""


@dataclass(frozen=True)
class Element:
    role: str
    name: str
    text: str
    tag: str
    id: str
    box: tuple[float, float, float, float]  # CSS px, x1 y1 x2 y2

    @property
    def instruction(self) -> str:
        return f"{self.name} {ROLE_WORDS.get(self.role, self.role)}"

    @property
    def ui_type(self) -> str:
        return "text" if self.text else "icon"


def select(elements: list[Element]) -> tuple[list[Element], list[Element]]:
    """(kept, dropped): unnamed elements and every element whose name occurs twice are dropped."""
    counts = Counter(e.name.casefold() for e in elements if e.name)
    kept = [e for e in elements if e.name and counts[e.name.casefold()] == 1]
    return kept, [e for e in elements if e not in kept]


def collect(page: Any) -> list[Element]:
    """The page's visible interactive elements, in document order."""
    return [Element(**{**item, "box": tuple(item["box"])}) for item in page.evaluate(COLLECT_JS)]


def pixel_box(box: tuple[float, float, float, float], scale: float) -> list[int]:
    """``[x, y, w, h]`` in screenshot pixels, grown outward to whole pixels (the element stays inside)."""
    x1, y1 = math.floor(box[0] * scale + 1e-6), math.floor(box[1] * scale + 1e-6)
    x2, y2 = math.ceil(box[2] * scale - 1e-6), math.ceil(box[3] * scale - 1e-6)
    return [x1, y1, x2 - x1, y2 - y1]


def build(screens: list[Screen], viewports: list[Size], out: str | Path, *, scale: float = 1.0,
          console: Console | None = None) -> dict[str, Any]:
    """Render every screen at every viewport into ``out``; returns the manifest (also written)."""
    from environments.browser import BrowserEnvironment, launch_browser

    out = Path(out)
    (out / IMAGES).mkdir(parents=True, exist_ok=True)
    samples: list[dict[str, Any]] = []
    shots: list[dict[str, Any]] = []
    playwright, browser = launch_browser()
    try:
        for viewport in viewports:
            for screen in screens:
                env = BrowserEnvironment(viewport=viewport, device_scale_factor=scale, image_format="png", browser=browser)
                try:
                    try:
                        env.goto(screen.url)
                    except Exception as exc:  # noqa: BLE001 - a page that does not load is the user's to fix
                        raise ConfigError(f"could not load {screen.url}: {str(exc).splitlines()[0]}") from None
                    if screen.setup:
                        env.page.evaluate(screen.setup)
                        env.settle()
                    elements = collect(env.page)
                    image = env.capture()
                finally:
                    env.close()
                kept, dropped = select(elements)
                suffix = "" if scale == 1 else f"@{scale:g}x"
                filename = f"{_slug(screen.name)}-{viewport}{suffix}.png"
                image.save(out / IMAGES / filename, optimize=True)
                for e in kept:
                    samples.append({"img_filename": filename, "instruction": e.instruction, "bbox": pixel_box(e.box, scale),
                                    "data_type": e.ui_type, "data_source": screen.name, "role": e.role, "name": e.name})
                shots.append({"screen": screen.name, "url": screen.url, "viewport": str(viewport), "image": filename,
                              "elements": len(elements), "kept": len(kept),
                              "dropped": [{"name": e.name, "role": e.role, "why": "no name" if not e.name else "same name twice"}
                                          for e in dropped]})
    finally:
        browser.close()
        playwright.stop()
    (out / ANNOTATIONS).write_text(json.dumps(samples, indent=1, ensure_ascii=False) + "\n", "utf-8")
    manifest = {"screens": [asdict(s) for s in screens], "viewports": [str(v) for v in viewports],
                "device_scale_factor": scale, "samples": len(samples), "shots": shots}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", "utf-8")
    if console is not None:
        _print(console, manifest, out)
    return manifest


def demo_screens(base_url: str) -> list[Screen]:
    """The bundled Acme Workspace demo app: sign-in, contacts and settings screens."""
    url = base_url.rstrip("/") + "/demo/"
    sign_in = ("document.getElementById('username').value = 'alice';"
               "document.getElementById('password').value = 'wonderland';"
               "document.getElementById('signin-form').requestSubmit();")
    return [
        Screen("acme-signin", url),
        Screen("acme-contacts", url, sign_in),
        Screen("acme-settings", url, sign_in + "document.getElementById('tab-settings').click();"),
    ]


# -- CLI ----------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", action="append", default=[], help="a page to render (repeatable)")
    parser.add_argument("--html", action="append", default=[], help="a local HTML file to render (repeatable)")
    parser.add_argument("--demo", action="store_true", help="the bundled demo app's screens (served on loopback)")
    parser.add_argument("--viewport", action="append", default=[], type=_size,
                        help=f"WxH in CSS px (repeatable; default {DEFAULT_VIEWPORTS[0]})")
    parser.add_argument("--device-scale-factor", type=positive_float, default=1.0, help="2 renders HiDPI screenshots (default 1)")
    parser.add_argument("--out", default=None, help="output directory (default runs/<time>-grounding-set)")


def main(args: argparse.Namespace) -> int:
    from agent.options import console, default_out

    screens = [Screen(_slug(u.split("//", 1)[-1]), u) for u in args.url]
    for html in args.html:
        path = Path(html)
        if not path.is_file():
            raise ConfigError(f"--html {html} is not a file")
        screens.append(Screen(_slug(path.stem), path.resolve().as_uri()))
    if not screens and not args.demo:
        raise ConfigError("nothing to render: pass --url URL, --html FILE (each repeatable) or --demo")
    if args.device_scale_factor <= 0:
        raise ConfigError(f"--device-scale-factor must be positive, got {args.device_scale_factor}")
    viewports = args.viewport or list(DEFAULT_VIEWPORTS)
    out = Path(args.out) if args.out else default_out("grounding-set", screens[0].name if screens else "demo")
    if args.demo:
        from environments.webapps import WebAppServer

        server = WebAppServer()
        try:
            manifest = build(screens + demo_screens(server.url()), viewports, out, scale=args.device_scale_factor,
                             console=console)
        finally:
            server.close()
    else:
        manifest = build(screens, viewports, out, scale=args.device_scale_factor, console=console)
    return 0 if manifest["samples"] else 1


def _print(console: Console, manifest: dict[str, Any], out: Path) -> None:
    from rich.table import Table

    table = Table(title=f"Grounding set: {manifest['samples']} samples")
    for column in ("screen", "viewport", "elements", "kept", "dropped"):
        table.add_column(column, justify="left" if column in ("screen", "viewport") else "right")
    for shot in manifest["shots"]:
        table.add_row(shot["screen"], shot["viewport"], str(shot["elements"]), str(shot["kept"]), str(len(shot["dropped"])))
    console.print(table)
    console.print(f"[dim]{out / ANNOTATIONS}; evaluate with: gui-agent eval screenspot --data {out}[/]")


def _size(text: str) -> Size:
    try:
        return Size.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:48] or "page"
