"""The font labels are drawn with: DejaVu Sans (installed by the Makefile) so that non-Latin text — a
Cyrillic button name, a Greek label, an accented word — shows as letters, not as Pillow's default font's
empty boxes. Pillow's default is the fallback when DejaVu is not installed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PIL import ImageFont

DEJAVU = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),  # Debian/Ubuntu fonts-dejavu-core
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),  # Fedora, Arch
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


@cache
def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at ``size`` px when installed, else Pillow's default font."""
    for path in DEJAVU:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)
