"""Resize screenshots to model space once, and encode them (Pillow does the codecs)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from agent.geometry import Size

DEFAULT_FORMAT = "jpeg"  # see README "Performance": ~7x cheaper than PNG at 1080p, text stays legible
JPEG_QUALITY = 90


def to_model_image(screenshot: Image.Image, size: Size) -> Image.Image:
    """The screenshot at the model-space size, RGB. Bicubic, as the Qwen processor resizes."""
    image = screenshot if screenshot.mode == "RGB" else screenshot.convert("RGB")
    if image.size == (size.width, size.height):
        return image
    return image.resize((size.width, size.height), Image.Resampling.BICUBIC)


def encode(image: Image.Image, fmt: str = DEFAULT_FORMAT, *, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG (quality ``quality``) or PNG (compress level 1: most of the size, a fraction of the time)."""
    buf = io.BytesIO()
    fmt = fmt.lower()
    if fmt in ("jpeg", "jpg"):
        image.convert("RGB").save(buf, "JPEG", quality=quality)
    elif fmt == "png":
        image.save(buf, "PNG", compress_level=1)
    else:
        raise ValueError(f"unknown image format {fmt!r}; use jpeg or png")
    return buf.getvalue()


def data_uri(image: Image.Image, fmt: str = DEFAULT_FORMAT) -> str:
    mime = "jpeg" if fmt.lower() in ("jpeg", "jpg") else fmt.lower()
    return f"data:image/{mime};base64," + base64.b64encode(encode(image, fmt)).decode("ascii")


def extension(fmt: str) -> str:
    return "jpg" if fmt.lower() in ("jpeg", "jpg") else fmt.lower()
