"""Resize screenshots to model space once, and encode them (Pillow does the codecs)."""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from agent.geometry import Size
from agent.rects import Box, merge_cheap

if TYPE_CHECKING:
    from environments.base import Damage

# Screenshots sent to servers and kept in trajectories: JPEG q90 costs a quarter of PNG's time at 1080p
# (6 vs 24 ms; `make bench`) and keeps UI text legible; lossless PNG stays available (image_format="png").
DEFAULT_FORMAT = "jpeg"
JPEG_QUALITY = 90


def decode(data: bytes) -> Image.Image | np.ndarray:
    """A PNG or JPEG file's pixels: an 8-bit RGB PNG through libspng (pyspng) as an HxWx3 array, a third
    faster than Pillow's decoder, which reads through the system zlib; anything else through Pillow, RGB."""
    image = Image.open(io.BytesIO(data))
    if image.format == "PNG" and image.mode == "RGB" and _spng() is not None:
        array = _spng().load(data)
        if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
            return array
    image.load()
    return image if image.mode == "RGB" else image.convert("RGB")


@cache
def _spng():
    try:
        import pyspng
    except ImportError:
        return None
    return pyspng


def to_model_image(screenshot: Image.Image | np.ndarray, size: Size) -> Image.Image:
    """The screenshot at the model-space size, RGB, resized as qwen-vl-utils does (PIL's antialiased bicubic).

    When torch is installed its uint8 antialiased bicubic does the work in a fifth of the time (32 ms → 7 ms
    at 1080p on these machines). It is the same filter with different intermediate rounding: on UI-like
    images the mean difference is under 0.1 level and 99.9% of values agree within 4 levels (within 1 at
    1080p and 4K; near-1 ratios differ most), see tests/core/test_imaging.py.
    """
    if isinstance(screenshot, np.ndarray):  # HxWx3 uint8, as `decode` gives it
        if screenshot.shape[1::-1] == (size.width, size.height) or _torch_interpolate() is None:
            screenshot = Image.fromarray(screenshot)
        else:
            return _torch_resize(screenshot, size)
    image = screenshot if screenshot.mode == "RGB" else screenshot.convert("RGB")
    if image.size == (size.width, size.height):
        return image
    if _torch_interpolate() is None:
        return image.resize((size.width, size.height), Image.Resampling.BICUBIC)
    return _torch_resize(np.asarray(image), size)


def _torch_resize(array: np.ndarray, size: Size) -> Image.Image:
    with warnings.catch_warnings():  # torch warns when the array is read-only; it is only read
        warnings.simplefilter("ignore", UserWarning)
        pixels = _torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
    interpolate = _torch_interpolate()
    planes = interpolate(pixels, size=(size.height, size.width), mode="bicubic", antialias=True)[0].numpy()
    # PIL interleaves the three contiguous planes faster than numpy copies a strided HWC view
    return Image.merge("RGB", [Image.fromarray(plane) for plane in planes])


# Patches are resized by Pillow (~27 ns per output pixel here, counting the rows of filter support)
# and the full image by torch (~7 ns): patching pays while the patched output is under about a quarter
# of the image (measured at 1080p; `make bench`). Without torch the full resize is Pillow's too.
PATCH_FRACTION_TORCH = 0.25
PATCH_FRACTION_PIL = 0.9
MERGE_SLACK = 1024  # output pixels recomputed twice rather than pay another resize call (~30 µs)
MAX_RECTS = 16  # more damage boxes than this are patched as their bounding box (pairwise merging is O(n²))


class ModelImageCache:
    """Model-space images of one screen, recomputing only what a screenshot's damage touches.

    Most desktop steps change a small part of the screen, yet the full resize costs ~7 ms at 1080p
    (twice the rest of the step). Given ``damage`` against the frame cached last, only output pixels
    whose bicubic support touches a damaged box are recomputed (Pillow's ``box`` keeps the global
    sampling grid, so a patch is the same region of a full resize to within ±2 levels; see
    tests/core/test_imaging.py) and pasted into a copy: images handed out are never changed.
    """

    def __init__(self) -> None:
        self._image: Image.Image | None = None
        self._frame: int | None = None
        self._key: tuple | None = None
        self.last = "none"  # "full", "patch" or "reuse": how the latest image was made (tests, benchmarks)

    def model_image(
        self, screenshot: Image.Image, size: Size, frame: int | None = None, damage: Damage | None = None,
    ) -> Image.Image:
        """``to_model_image(screenshot, size)``, incrementally when ``damage.since`` is the cached frame."""
        key = (screenshot.size, (size.width, size.height), screenshot.mode)
        cached = self._image is not None and self._frame is not None and self._key == key
        if cached and frame == self._frame:
            image, self.last = self._image, "reuse"  # the same screenshot again (frame ids are unique)
        elif cached and damage is not None and damage.since == self._frame and screenshot.mode == "RGB":
            image = self._patched(screenshot, size, damage.boxes)
        else:
            image, self.last = to_model_image(screenshot, size), "full"
        self._image, self._frame, self._key = image, frame, key
        return image

    def _patched(self, screenshot: Image.Image, size: Size, boxes: Iterable[Box]) -> Image.Image:
        rects = damaged_rects(boxes, Size(*screenshot.size), size)
        if not rects:
            self.last = "reuse"
            return self._image
        limit = PATCH_FRACTION_PIL if _torch_interpolate() is None else PATCH_FRACTION_TORCH
        # +4: the rows and columns of filter support each side, which Pillow reads and filters too
        if sum((x1 - x0 + 4) * (y1 - y0 + 4) for x0, y0, x1, y1 in rects) > limit * size.width * size.height:
            self.last = "full"
            return to_model_image(screenshot, size)
        image = self._image.copy()  # images handed out are immutable: the patch goes onto a copy (~0.3 ms)
        forget_encoding(image)  # the copy's pixels change: the data URI kept with the original is not its
        in_w, in_h = screenshot.size
        for x0, y0, x1, y1 in rects:
            # x * in / out rounds once (and is exact at the far edge); Pillow reads the box as C floats
            box = (x0 * in_w / size.width, y0 * in_h / size.height, x1 * in_w / size.width, y1 * in_h / size.height)
            image.paste(screenshot.resize((x1 - x0, y1 - y0), Image.Resampling.BICUBIC, box=box), (x0, y0))
        self.last = "patch"
        return image


def damaged_rects(boxes: Iterable[Box], screen: Size, model: Size) -> list[Box]:
    """Output rectangles holding every model-space pixel whose bicubic support touches a damaged box.

    Output pixel ``x`` samples input columns ``int(c - support + 0.5) <= i < int(c + support + 0.5)``,
    ``c = (x + 0.5) * scale``, ``support = 2 * max(scale, 1)`` (Pillow and torch alike); rectangles get
    one pixel more each side, are clipped to the image, and merged where that saves a resize call.
    """
    rects = []
    for x0, y0, x1, y1 in boxes:
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, screen.width), min(y1, screen.height)
        if x0 < x1 and y0 < y1:
            ox0, ox1 = _span(x0, x1, screen.width, model.width)
            oy0, oy1 = _span(y0, y1, screen.height, model.height)
            rects.append((ox0, oy0, ox1, oy1))
    return merge_cheap(rects, MERGE_SLACK, MAX_RECTS)


def _span(lo: int, hi: int, size_in: int, size_out: int) -> tuple[int, int]:
    scale = size_in / size_out
    support = 2.0 * max(scale, 1.0)
    first = math.ceil((lo + 0.5 - support) / scale - 0.5)  # first x whose window ends past lo
    end = math.ceil((hi + support - 0.5) / scale - 0.5)  # first x whose window starts at or past hi
    return max(first - 1, 0), min(end + 1, size_out)


_torch = None


@cache
def _torch_interpolate():
    """torch's interpolate, or None where torch is not installed (a server-only install)."""
    global _torch
    try:
        import torch
        import torch.nn.functional as functional
    except ImportError:
        return None
    _torch = torch
    return functional.interpolate


def resize_in_one_thread() -> None:
    """Let torch resize on the calling thread only. For a process that uses torch just to resize (an
    evaluation against a server), OpenMP's hand-off costs more than a second core gains at screen sizes
    (1280x720: 3.0 ms of CPU in one thread, 4.9 ms in two, and no faster by the clock), and the
    evaluation's own workers already use every core. Not for processes running a model in torch."""
    if _torch_interpolate() is not None:
        _torch.set_num_threads(1)


def encode(image: Image.Image, fmt: str = DEFAULT_FORMAT, *, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG (quality ``quality``) or PNG (compress level 1: most of the size, a fraction of the time)."""
    buf = io.BytesIO()
    fmt = fmt.lower()
    if fmt in ("jpeg", "jpg"):
        (image if image.mode == "RGB" else image.convert("RGB")).save(buf, "JPEG", quality=quality)
    elif fmt == "png":
        image.save(buf, "PNG", compress_level=1)
    else:
        raise ValueError(f"unknown image format {fmt!r}; use jpeg or png")
    return buf.getvalue()


# ``image.info`` key of data URIs already made for exactly these pixels: {"jpeg": uri, "png": uri, "file": uri}.
ENCODED = "gui_agent.data_uri"


def data_uri(image: Image.Image, fmt: str = DEFAULT_FORMAT) -> str:
    """The image as a data URI. An image that carries its own file's bytes (`from_file`) is sent as
    those bytes (the very pixels, no decode or encode); one encoded before (`encode_once`) is not
    encoded again."""
    cached = image.info.get(ENCODED) or {}
    if uri := cached.get("file") or cached.get(_canonical(fmt)):
        return uri
    return _uri(encode(image, fmt), fmt)


def encode_once(image: Image.Image, fmt: str = DEFAULT_FORMAT) -> Image.Image:
    """Encode ``image`` now and keep the data URI with it, so every later request reuses it (ScreenSpot
    asks several questions about one screenshot; retries resend it). ``image`` must not change after."""
    key = _canonical(fmt)
    cached = image.info.get(ENCODED) or {}
    if key not in cached and "file" not in cached:
        image.info[ENCODED] = {**cached, key: _uri(encode(image, fmt), fmt)}  # a new dict: copies share the old
    return image


def from_file(data: bytes) -> Image.Image:
    """A lazily decoded image that is sent as ``data`` itself (PNG, JPEG, WebP, ...): when a file already
    has the model-space size nothing needs decoding or encoding on the client."""
    image = Image.open(io.BytesIO(data))
    fmt = (image.format or "png").lower()
    image.info[ENCODED] = {"file": f"data:image/{fmt};base64," + base64.b64encode(data).decode("ascii")}
    return image


def passes_through(image: Image.Image, data: bytes) -> bool:
    """Whether ``data`` (opened lazily as ``image``) may be sent as it is: the server then decodes the pixels
    the client would. A format every OpenAI-compatible server reads, RGB or grey, no transparency (vLLM
    composites it on white, the client's decode drops it) and no EXIF rotation (vLLM applies it, which
    swaps width and height). Never decodes: a PNG's EXIF may follow its pixels, so any ``eXIf`` in a PNG
    (rare; a chance match in compressed data only costs the fast path) sends it through the decoder instead."""
    if image.format not in PASS_THROUGH or image.mode not in ("RGB", "L") or "transparency" in image.info:
        return False
    if image.format == "PNG":
        return b"eXIf" not in data
    try:
        return image.getexif().get(EXIF_ORIENTATION, 1) == 1  # JPEG and WebP read EXIF with the header
    except Exception:  # noqa: BLE001 - a malformed EXIF block: decode and re-encode it, as before
        return False


PASS_THROUGH = ("PNG", "JPEG", "WEBP")  # formats every OpenAI-compatible server decodes
EXIF_ORIENTATION = 0x0112


def forget_encoding(image: Image.Image) -> None:
    """Drop the data URIs kept with ``image``: call it before changing the image's pixels in place."""
    image.info.pop(ENCODED, None)


def _canonical(fmt: str) -> str:
    return "jpeg" if fmt.lower() in ("jpeg", "jpg") else fmt.lower()


def _uri(data: bytes, fmt: str) -> str:
    return f"data:image/{_canonical(fmt)};base64," + base64.b64encode(data).decode("ascii")


def extension(fmt: str) -> str:
    return "jpg" if fmt.lower() in ("jpeg", "jpg") else fmt.lower()
