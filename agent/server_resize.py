"""Let the model server resize a screenshot file itself when it provably lands on the client's model grid.

A Qwen2.5-VL server (vLLM, or any server running Qwen's processor) resizes every image it gets with
``smart_resize`` under its own min/max_pixels, the rule of `agent.geometry`. Resizing on the client first
costs a decode, a resize and an encode (~12 ms of CPU at 1280x720, most of a ScreenSpot sample's client
work) only to hand the server an image it leaves as it is. When the server would put the original file on
the same grid, the client can send the file's own bytes instead: the model answers in the same coordinate
space, and sees the pixels of the processor it was trained with rather than a JPEG of another resize.

Which grid the server used is not assumed but checked: the prompt image (`ServerResized`) reports the
client's model size, and `OpenAIModel`'s resolution handshake compares the server's image-token count
with that size; a server with other limits is caught there (`ResolutionMismatch`, exit 2) exactly as
when the client resizes.

``--resize`` chooses:

- ``client``: always resize here (the server gets an image at model size; the behaviour before).
- ``auto`` (the default): send the original file (when it can pass through, `agent.imaging.passes_through`)
  whenever the client's limits do not bind for this screenshot, that is when its model size is the plain
  rounding of each side to a multiple of 28. Then the server lands on that size under exactly the servers
  that would leave a client-resized image alone (both hold iff the model area lies within the server's
  limits; see `server_lands_on`), so ``auto`` never fails where ``client`` works, and every check the
  handshake makes of a client-resized image (per request from vLLM's token ids, or by area from one usage
  probe) holds for the original too. When the client's limits do bind (a screenshot shrunk by
  --max-pixels), only a server with the very same limits agrees, which an area-based check cannot
  establish for sizes it has not seen: such screenshots are resized here. (There is deliberately no mode
  that sends those: it would be safe only on servers whose every request is checked.)
"""

from __future__ import annotations

import argparse
import base64
import io
import math
from typing import Literal

from PIL import Image

from agent.geometry import FACTOR, Geometry, Size, smart_resize
from agent.imaging import ENCODED, from_file, passes_through

ResizeMode = Literal["auto", "client"]
RESIZE_MODES: tuple[ResizeMode, ...] = ("auto", "client")
RESIZE_HELP = ("with --base-url: where screenshots are resized to model size. auto (default): by the server, "
               "sending the original file undecoded, whenever the client's --min/--max-pixels leave the screenshot "
               "at its 28-rounded size (every server that would accept a client-resized image then lands on the "
               "same size, and the handshake checks it); else here. client: always here (decode, resize, JPEG)")


class ServerResized:
    """A screenshot file that the model server resizes to ``size`` itself, sent as the file's own bytes.

    It has no pixels: ``size`` is the MODEL size, not the file's, because that is what the prompt states,
    what structured outputs bound, and what `OpenAIModel`'s handshake checks against the server's token
    count (which is what proves the server landed on that grid); ``original`` is the file's size.
    """

    def __init__(self, data: bytes, original: Size, size: Size, fmt: str) -> None:
        self.original, self.model = original, size
        self.format = fmt.upper()
        self.info = {ENCODED: {"file": f"data:image/{fmt.lower()};base64," + base64.b64encode(data).decode("ascii")}}

    @property
    def size(self) -> tuple[int, int]:
        return self.model.width, self.model.height

    @property
    def width(self) -> int:
        return self.model.width

    @property
    def height(self) -> int:
        return self.model.height

    def __repr__(self) -> str:
        return f"ServerResized({self.format} {self.original} -> {self.model} by the server)"


def server_lands_on(original: Size, min_pixels: int, max_pixels: int) -> bool:
    """``auto``'s rule: the client's limits leave ``original``'s 28-rounded size as it is.

    Why that is enough: let M be that rounded size and S any server's limits. Given M itself, S's
    smart_resize keeps it iff S.min <= area(M) <= S.max (rounding a multiple of 28 is exact; a bound that
    applies moves both sides). Given the original, S's smart_resize first rounds it to M too, then keeps
    M under the same condition, and otherwise scales to an area on the far side of the bound that applied,
    so never to M. The server lands on M for the original exactly when it keeps a client-resized M.
    Sides under 28 px are left to the client (the servers' smart_resize rounds them to 0, ours to 28).
    """
    if min(original.width, original.height) < FACTOR:
        return False
    bound = smart_resize(original.height, original.width, min_pixels=min_pixels, max_pixels=max_pixels)
    return bound == smart_resize(original.height, original.width, min_pixels=0, max_pixels=math.inf)


def for_server(data: bytes, min_pixels: int, max_pixels: int, resize: ResizeMode
               ) -> tuple[Geometry, Image.Image | ServerResized | None]:
    """The geometry of the image file ``data`` and, when the server may have the file as it is, the prompt
    image that sends it (``from_file`` at model size, `ServerResized` otherwise); None: resize it here.
    Reads the header only."""
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
    image = Image.open(io.BytesIO(data))  # lazy: the header gives the size
    size = Size(*image.size)
    geometry = Geometry.for_screenshot(size, size, min_pixels=min_pixels, max_pixels=max_pixels)
    if not passes_through(image, data):
        return geometry, None
    if size == geometry.model:
        return geometry, from_file(data)  # already at model size: nothing for anyone to resize
    if resize == "auto" and server_lands_on(size, min_pixels, max_pixels):
        return geometry, ServerResized(data, size, geometry.model, image.format)
    return geometry, None


def add_resize_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resize", choices=RESIZE_MODES, default="auto", help=RESIZE_HELP)
