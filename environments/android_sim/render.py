"""Draw the simulated phone with Pillow at its physical resolution; encode frames like ``screencap``.

Layout happens in the logical (input) space; drawing scales it to physical pixels, so a ``wm size``
override shows up as a screenshot larger or smaller than the input space, as on a scaled display.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from environments.android_sim.phone import Phone
from environments.android_sim.ui import Node

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
TARGET_RGB = (255, 0, 255)
LIGHT = {"bg": (250, 250, 250), "fg": (33, 33, 33), "muted": (117, 117, 117), "bar": (238, 238, 238),
         "line": (224, 224, 224), "accent": (25, 118, 210), "field": (255, 255, 255)}
DARK = {"bg": (18, 18, 18), "fg": (230, 230, 230), "muted": (160, 160, 160), "bar": (33, 33, 33),
        "line": (60, 60, 60), "accent": (100, 181, 246), "field": (40, 40, 40)}


@lru_cache(maxsize=32)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(BOLD if bold else FONT, max(6, size))
    except OSError:  # fonts-dejavu-core missing: Pillow's own scalable default
        return ImageFont.load_default(max(6, size))


def frame(phone: Phone) -> Image.Image:
    """The current screen as an RGB image in physical pixels (cached until the state changes)."""
    key = (phone.version, phone.screen_size, phone.logical_size, phone.target)
    cached = getattr(phone, "_frame_cache", None)
    if cached and cached[0] == key:
        return cached[1]
    image = _draw(phone)
    phone._frame_cache = (key, image)
    return image


def _encoded(phone: Phone, kind: str, encode) -> bytes:
    """Encodings are cached with the frame: a device that did not change answers at once."""
    image = frame(phone)
    cache = getattr(phone, "_encode_cache", None)
    if cache is None or cache[0] is not image:
        cache = phone._encode_cache = (image, {})
    if kind not in cache[1]:
        cache[1][kind] = encode(image)
    return cache[1][kind]


def png(phone: Phone) -> bytes:
    def encode(image: Image.Image) -> bytes:
        buf = io.BytesIO()
        image.save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    return _encoded(phone, "png", encode)


def raw(phone: Phone) -> bytes:
    """``screencap`` without ``-p``: a 16-byte header (w, h, format RGBA_8888, colour space) and RGBA rows."""
    from environments.android_sim.shell import RAW_HEADER

    return _encoded(phone, "raw", lambda im: RAW_HEADER.pack(im.width, im.height, 1, 0) + im.convert("RGBA").tobytes())


def _draw(phone: Phone) -> Image.Image:
    screen, logical = phone.screen_size, phone.logical_size
    sx, sy = screen.width / logical.width, screen.height / logical.height
    dark = phone.setting("secure", "ui_night_mode") == "2"
    c = DARK if dark else LIGHT
    image = Image.new("RGB", (screen.width, screen.height), c["bg"])
    draw = ImageDraw.Draw(image)
    lay = phone.layout
    unit = lay.u * sy

    def box(b: tuple[int, int, int, int]) -> list[float]:
        return [b[0] * sx, b[1] * sy, b[2] * sx - 1, b[3] * sy - 1]

    # status bar: clock and radio states
    draw.rectangle([0, 0, screen.width, lay.status_bar * sy], fill=c["bar"])
    status = "  ".join(s for s, on in (("✈", phone.setting("global", "airplane_mode_on") == "1"),
                                       ("Wi-Fi", phone.setting("global", "wifi_on") == "1"),
                                       ("BT", phone.setting("global", "bluetooth_on") == "1")) if on)
    small = _font(round(12 * unit))
    draw.text((12 * unit, 4 * unit), "12:00", fill=c["fg"], font=small)
    draw.text((screen.width - 12 * unit, 4 * unit), status, fill=c["fg"], font=small, anchor="ra")
    for node in phone.nodes():
        if node.kind == "dialog":  # dim what lies under a dialog
            image = Image.blend(image, Image.new("RGB", image.size, (0, 0, 0)), 0.4)
            draw = ImageDraw.Draw(image)
        _draw_node(draw, node, box(node.bounds), unit, c)
    if phone.target is not None:
        draw.rectangle(box(phone.target), fill=TARGET_RGB)
    return image


def _draw_node(draw: ImageDraw.ImageDraw, n: Node, b: list[float], unit: float, c: dict) -> None:
    x1, y1, x2, y2 = b
    mid = (y1 + y2) / 2
    body, bold = _font(round(16 * unit)), _font(round(20 * unit), bold=True)
    if n.kind == "title":
        draw.rectangle([0, y1, draw.im.size[0], y2], fill=c["bar"])
        draw.text((x1 + 16 * unit, mid), n.text, fill=c["fg"], font=bold, anchor="lm")
    elif n.kind == "button":
        draw.text(((x1 + x2) / 2, mid), n.text, fill=c["accent"], font=_font(round(18 * unit), bold=True), anchor="mm")
    elif n.kind in ("row", "toggle"):
        draw.line([x1, y2, x2, y2], fill=c["line"], width=max(1, round(unit)))
        if n.hint:
            draw.text((x1 + 16 * unit, mid - 10 * unit), n.text, fill=c["fg"], font=body, anchor="lm")
            draw.text((x1 + 16 * unit, mid + 12 * unit), n.hint.split("\n")[0][:40], fill=c["muted"],
                      font=_font(round(13 * unit)), anchor="lm")
        else:
            draw.text((x1 + 16 * unit, mid), n.text, fill=c["fg"], font=body, anchor="lm")
        if n.kind == "toggle":
            on = bool(n.checked)
            tx2, th = x2 - 16 * unit, 12 * unit
            track = [tx2 - 40 * unit, mid - th, tx2, mid + th]
            draw.rounded_rectangle(track, radius=th, fill=c["accent"] if on else c["line"])
            knob_x = tx2 - th if on else tx2 - 40 * unit + th
            draw.ellipse([knob_x - th + 2, mid - th + 2, knob_x + th - 2, mid + th - 2], fill=(255, 255, 255))
    elif n.kind == "field":
        draw.rounded_rectangle(b, radius=6 * unit, fill=c["field"], outline=c["accent"] if n.focused else c["line"],
                               width=max(1, round(2 * unit)))
        text, colour = (n.text.replace("\n", " ⏎ "), c["fg"]) if n.text else (n.hint, c["muted"])
        draw.text((x1 + 12 * unit, mid), text + ("|" if n.focused else ""), fill=colour, font=body, anchor="lm")
    elif n.kind == "icon":
        s = 56 * unit
        cx = (x1 + x2) / 2
        draw.rounded_rectangle([cx - s / 2, y1 + 8 * unit, cx + s / 2, y1 + 8 * unit + s], radius=14 * unit,
                               fill=n.color)
        draw.text((cx, y1 + 8 * unit + s / 2), n.text[:1], fill=(255, 255, 255), font=bold, anchor="mm")
        draw.text((cx, y1 + 76 * unit), n.text, fill=c["fg"], font=_font(round(13 * unit)), anchor="mm")
    elif n.kind == "fab":
        draw.ellipse(b, fill=c["accent"])
        draw.text(((x1 + x2) / 2, mid), "+", fill=(255, 255, 255), font=_font(round(30 * unit), bold=True), anchor="mm")
    elif n.kind == "text":
        draw.text(((x1 + x2) / 2, mid), n.text, fill=c["muted"], font=body, anchor="mm")
    elif n.kind == "panel":
        draw.rectangle(b, fill=n.color)
    elif n.kind == "dialog":
        draw.rounded_rectangle(b, radius=12 * unit, fill=c["field"], outline=c["line"], width=max(1, round(unit)))
        draw.text((x1 + 20 * unit, y1 + 36 * unit), n.text, fill=c["fg"], font=body, anchor="lm")
    elif n.kind == "keyboard":
        draw.rectangle(b, fill=c["bar"])
    elif n.kind == "key":
        kb = [x1 + 3 * unit, y1 + 4 * unit, x2 - 3 * unit, y2 - 4 * unit]
        draw.rounded_rectangle(kb, radius=4 * unit, fill=c["field"])
        draw.text(((x1 + x2) / 2, mid), n.text, fill=c["fg"], font=body, anchor="mm")
