"""Incremental JPEG: re-encode only the MCU rows of a screenshot that changed since the last one.

A full 1080p JPEG costs ~5 ms, more than the rest of a desktop step, yet most steps change a few rows
of pixels. Frames are encoded as baseline JPEG with a restart marker after every MCU row: the DC
predictors reset at each marker, so every row's entropy-coded segment depends on that row's pixels
alone. Given `Damage` against the cached frame, the dirty row bands are encoded as strips with the
same settings (libjpeg-turbo through Pillow does all coding; this module only splits and joins bytes)
and their segments spliced into the cached ones. The result is byte-identical to a full encode of the
new frame; anything unexpected falls back to a full encode.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from PIL import Image

from agent.imaging import JPEG_QUALITY

if TYPE_CHECKING:
    from environments.base import Damage

_RST = re.compile(rb"(\xff[\xd0-\xd7])")  # 0xFF in entropy data is stuffed as FF00, so this only finds markers
_MARKERS = [bytes((0xFF, 0xD0 + n)) for n in range(8)]
_EOI = b"\xff\xd9"


class RowJpegEncoder:
    """Encodes successive frames of one screen, reusing the cached rows that damage says are unchanged.

    ``last`` tells how the latest frame was produced: "full", "rows" (spliced) or "reused".
    """

    def __init__(self, quality: int = JPEG_QUALITY, max_dirty: float = 0.5) -> None:
        self.quality, self.max_dirty = quality, max_dirty
        self.last = ""
        self._frame: int | None = None
        self._size: tuple[int, int] | None = None
        self._header, self._mcu_height = b"", 0
        self._segments: list[bytes] = []
        self._data = b""

    def save(self, image: Image.Image) -> bytes:
        """A full encode with the settings every strip also uses (4:2:0, standard tables, RST per MCU row)."""
        buf = io.BytesIO()
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        rgb.save(buf, "JPEG", quality=self.quality, subsampling=2, optimize=False, progressive=False,
                 restart_marker_rows=1, comment=b"")
        return buf.getvalue()

    def encode(self, image: Image.Image, frame: int | None = None, damage: Damage | None = None) -> bytes:
        if damage is not None and self._frame is not None and damage.since == self._frame \
                and image.size == self._size and self._segments:
            data = self._incremental(image, damage)
            if data is not None:
                self._frame = frame
                return data
        return self._full(image, frame)

    def _full(self, image: Image.Image, frame: int | None) -> bytes:
        data = self.save(image)
        self.last, self._frame, self._size, self._data = "full", frame, image.size, data
        split = _split(data)
        if split and len(split[1]) == -(-image.size[1] // split[2]):
            self._header, self._segments, self._mcu_height = split
        else:
            self._header, self._segments, self._mcu_height = b"", [], 0
        return data

    def _incremental(self, image: Image.Image, damage: Damage) -> bytes | None:
        (width, height), mcu_height = image.size, self._mcu_height
        dirty = sorted({row for box in damage.boxes for row in _box_rows(box, width, height, mcu_height)})
        if not dirty:
            self.last = "reused"
            return self._data
        if len(dirty) > self.max_dirty * len(self._segments):
            return None
        segments = list(self._segments)
        for start, stop in _runs(dirty):
            strip = _split(self.save(image.crop((0, start * mcu_height, width, min(stop * mcu_height, height)))))
            if strip is None or strip[2] != mcu_height or len(strip[1]) != stop - start:
                return None
            segments[start:stop] = strip[1]
        parts = [self._header]
        for index, segment in enumerate(segments[:-1]):
            parts += (segment, _MARKERS[index % 8])
        data = b"".join([*parts, segments[-1], _EOI])
        self.last, self._segments, self._data = "rows", segments, data
        return data


def _split(data: bytes) -> tuple[bytes, list[bytes], int] | None:
    """(header up to and including SOS, entropy segment per restart interval, MCU height) or None if unusual."""
    if data[:2] != b"\xff\xd8" or data[-2:] != _EOI:
        return None
    pos, marker, mcu_height, restart = 2, 0, 0, False
    while marker != 0xDA:  # marker segments up to and including SOS (start of scan)
        if pos + 4 > len(data) or data[pos] != 0xFF:
            return None
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2:pos + 4], "big")
        body = data[pos + 4:pos + 2 + length]
        if marker in (0xC1, 0xC2, 0xC3) or (0xC5 <= marker <= 0xCF and marker != 0xCC):
            return None  # not baseline: progressive, lossless or arithmetic coded
        if marker == 0xC0:  # SOF0: MCU height is 8 x the largest vertical sampling factor
            mcu_height = 8 * max(body[7 + 3 * c] & 0x0F for c in range(body[5]))
        restart |= marker == 0xDD
        pos += 2 + length
    if not (mcu_height and restart):
        return None
    pieces = _RST.split(data[pos:-2])
    if pieces[1::2] != [_MARKERS[n % 8] for n in range(len(pieces) // 2)]:
        return None
    return data[:pos], pieces[0::2], mcu_height


def _box_rows(box: tuple[int, int, int, int], width: int, height: int, mcu_height: int) -> range:
    left, top, right, bottom = box
    top, bottom = max(top, 0), min(bottom, height)
    if min(right, width) <= max(left, 0) or bottom <= top:
        return range(0)
    return range(top // mcu_height, -(-bottom // mcu_height))


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row indices as [start, stop) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row:
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    return runs
