"""Incremental JPEG: re-encode only the tiles of a screenshot that changed since the last one.

A full 1080p JPEG costs ~4 ms, more than the rest of a desktop step, yet most steps repaint a widget.
Frames are encoded as baseline JPEG with a restart marker every K MCUs (16x16 px at 4:2:0), K dividing
the MCUs per row, so each restart interval is a 16 x 16K px tile of one MCU row. The DC predictors
reset at each marker, so a tile's entropy-coded segment depends on its own pixels alone. Given `Damage`
against the cached frame, the dirty tiles are cropped as rectangles whose edges lie on tile boundaries
(or on the image's right and bottom edges, which pad partial MCUs the same way in the crop), encoded
with the same settings and K (libjpeg-turbo through Pillow does all coding; this module only splits
and joins bytes) and their segments spliced into the cached ones. The result is byte-identical to a
full encode of the new frame; anything unexpected falls back to a full encode.
"""

from __future__ import annotations

import io
import math
import re
from functools import cache
from typing import TYPE_CHECKING

from PIL import Image

from agent.imaging import JPEG_QUALITY
from agent.rects import Box, merge_cheap, total_area

if TYPE_CHECKING:
    from environments.base import Damage

MCU = 16  # px: 4:2:0 subsampling, checked against every SOF
TILE_MCUS = 8  # target restart interval (128 px): each marker costs ~3-5 bytes (marker, padding, DC restart)
MIN_TILE_MCUS = 4  # narrower intervals cost too much file size; a row with no divisor in range is one tile
MAX_RECTS = 16  # more dirty rectangles than this are encoded as their bounding box (merging is O(n²))
MERGE_SLACK = 8  # tiles: one more encode call costs about as much as encoding this many tiles

_RST = re.compile(rb"(\xff[\xd0-\xd7])")  # 0xFF in entropy data is stuffed as FF00, so this only finds markers
_MARKERS = [bytes((0xFF, 0xD0 + n)) for n in range(8)]
_EOI = b"\xff\xd9"


@cache
def tile_mcus(width: int, target: int = TILE_MCUS) -> int:
    """MCUs per restart interval for ``width``: the divisor of the MCUs per row nearest ``target``
    (geometrically, at least MIN_TILE_MCUS or target), else the whole row (1366 px = 86 MCUs -> 43)."""
    per_row = -(-width // MCU)
    divisors = [k for k in range(min(MIN_TILE_MCUS, target, per_row), per_row + 1) if per_row % k == 0]
    return min(divisors, key=lambda k: (abs(math.log(k / target)), -k))


class RowJpegEncoder:
    """Encodes successive frames of one screen, reusing the cached tiles that damage says are unchanged.

    ``last`` tells how the latest frame was produced: "full", "blocks" (spliced, some crops narrower
    than the image), "rows" (spliced, full-width strips only) or "reused". More than ``max_dirty`` of
    the tiles to re-encode means a full encode. ``tile`` is the target restart interval in MCUs.
    """

    def __init__(self, quality: int = JPEG_QUALITY, max_dirty: float = 0.5, tile: int = TILE_MCUS) -> None:
        self.quality, self.max_dirty, self.tile = quality, max_dirty, tile
        self.last = ""
        self._frame: int | None = None
        self._size: tuple[int, int] | None = None
        self._parts: list[bytes] | None = []  # header, segment, RST0, ..., segment, EOI; None: not split yet
        self._data = b""

    def save(self, image: Image.Image) -> bytes:
        """A full encode with the settings every crop also uses (4:2:0, standard tables, RST every tile)."""
        return self._save(image, tile_mcus(image.width, self.tile))

    def _save(self, image: Image.Image, blocks: int) -> bytes:
        buf = io.BytesIO()
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        rgb.save(buf, "JPEG", quality=self.quality, subsampling=2, optimize=False, progressive=False,
                 restart_marker_blocks=blocks, comment=b"")  # libjpeg's restart_interval, in MCUs
        return buf.getvalue()

    def encode(self, image: Image.Image, frame: int | None = None, damage: Damage | None = None) -> bytes:
        if damage is not None and self._frame is not None and damage.since == self._frame \
                and image.size == self._size and self._parts != []:
            data = self._incremental(image, damage)
            if data is not None:
                self._frame = frame
                return data
        return self._full(image, frame)

    def _full(self, image: Image.Image, frame: int | None) -> bytes:
        data = self.save(image)
        self.last, self._frame, self._size, self._data, self._parts = "full", frame, image.size, data, None
        return data  # split on first use: a step without damage does not pay for it

    def _incremental(self, image: Image.Image, damage: Damage) -> bytes | None:
        (width, height), blocks = image.size, tile_mcus(image.width, self.tile)
        tile, columns, rows = MCU * blocks, -(-width // MCU) // blocks, -(-height // MCU)
        rects = merge_cheap({cells for box in damage.boxes if (cells := _cells(box, width, height, tile))},
                            MERGE_SLACK, MAX_RECTS)
        if not rects:
            self.last = "reused"
            return self._data
        if self._parts is None:
            split = _split(self._data, blocks)
            self._parts = [split[0], *split[1], _EOI] if split and len(split[1]) == 2 * rows * columns - 1 else []
        if not self._parts or total_area(rects) > self.max_dirty * rows * columns:
            return None
        parts = list(self._parts)
        for left, top, right, bottom in rects:  # in tiles; the crop's own tiles align with the image's
            crop = image.crop((left * tile, top * MCU, min(right * tile, width), min(bottom * MCU, height)))
            split, span = _split(self._save(crop, blocks), blocks), right - left
            if split is None or len(split[1]) != 2 * span * (bottom - top) - 1:
                return None
            segments = split[1][::2]  # the crop's own markers are numbered from 0: keep the image's
            for row in range(top, bottom):
                start = 1 + 2 * (row * columns + left)
                parts[start:start + 2 * span:2] = segments[(row - top) * span:(row - top + 1) * span]
        data = b"".join(parts)
        narrow = any(right - left < columns for left, _, right, _ in rects)
        self.last, self._parts, self._data = "blocks" if narrow else "rows", parts, data
        return data


def _split(data: bytes, blocks: int) -> tuple[bytes, list[bytes]] | None:
    """(header up to and including SOS, [segment, RST0, segment, RST1, ..., segment]: the entropy-coded
    segment of each restart interval), or None unless the JPEG is baseline with 16x16 MCUs and a restart
    marker every ``blocks`` MCUs."""
    if data[:2] != b"\xff\xd8" or data[-2:] != _EOI:
        return None
    pos, marker, mcu, interval = 2, 0, (0, 0), 0
    while marker != 0xDA:  # marker segments up to and including SOS (start of scan)
        if pos + 4 > len(data) or data[pos] != 0xFF:
            return None
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2:pos + 4], "big")
        body = data[pos + 4:pos + 2 + length]
        if marker in (0xC1, 0xC2, 0xC3) or (0xC5 <= marker <= 0xCF and marker != 0xCC):
            return None  # not baseline: progressive, lossless or arithmetic coded
        if marker == 0xC0:  # SOF0: the MCU is 8 x the largest sampling factors
            mcu = tuple(8 * max(body[7 + 3 * c] >> shift & 0x0F for c in range(body[5])) for shift in (4, 0))
        if marker == 0xDD:  # DRI: the restart interval in MCUs
            interval = int.from_bytes(body[:2], "big")
        pos += 2 + length
    if mcu != (MCU, MCU) or interval != blocks:
        return None
    pieces = _RST.split(data[pos:-2])
    if pieces[1::2] != [_MARKERS[n % 8] for n in range(len(pieces) // 2)]:
        return None
    return data[:pos], pieces


def _cells(box: Box, width: int, height: int, tile: int) -> Box | None:
    """The tiles (left, top, right, bottom; columns of ``tile`` px, MCU rows) a box touches, if any."""
    left, top, right, bottom = max(box[0], 0), max(box[1], 0), min(box[2], width), min(box[3], height)
    if right <= left or bottom <= top:
        return None
    return left // tile, top // MCU, -(-right // tile), -(-bottom // MCU)
