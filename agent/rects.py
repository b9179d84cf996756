"""Integer rectangles: the one `Box` type and the helpers every module that tracks screen regions shares
(X DAMAGE capture, incremental model images, incremental JPEG rows, conformance targets).

A `Box` is ``(left, top, right, bottom)`` in whole pixels of some image or input space, right and bottom
exclusive. (A model's answer box, in floats and labelled, is `agent.parser.ModelBox`.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

Box = tuple[int, int, int, int]


def area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def total_area(boxes: Iterable[Box]) -> int:
    """Pixels covered, counting overlaps twice (an upper bound)."""
    return sum(area(b) for b in boxes)


def bounding(boxes: Iterable[Box]) -> Box:
    """The smallest box holding all of ``boxes`` (at least one)."""
    lefts, tops, rights, bottoms = zip(*boxes, strict=True)
    return min(lefts), min(tops), max(rights), max(bottoms)


def clip(boxes: Iterable[Box], bounds: Box) -> list[Box]:
    """``boxes`` cut to ``bounds`` and moved to its top-left; empty ones dropped."""
    bl, bt, br, bb = bounds
    out = []
    for left, top, right, bottom in boxes:
        box = (max(left, bl) - bl, max(top, bt) - bt, min(right, br) - bl, min(bottom, bb) - bt)
        if box[0] < box[2] and box[1] < box[3]:
            out.append(box)
    return out


def merge_near(boxes: Iterable[Box], gap: int = 16, most: int = 16) -> list[Box]:
    """Fewer, larger boxes covering ``boxes``: boxes closer than ``gap`` px are joined, repeatedly; more
    than ``most`` left become their bounding box."""
    boxes = list(boxes)
    while True:
        merged: list[Box] = []
        for box in sorted(boxes):
            for i, other in enumerate(merged):
                if (box[0] <= other[2] + gap and other[0] <= box[2] + gap
                        and box[1] <= other[3] + gap and other[1] <= box[3] + gap):
                    merged[i] = bounding([box, other])
                    break
            else:
                merged.append(box)
        if len(merged) == len(boxes):  # stable: no join made a box reach another
            return merged if len(merged) <= most else [bounding(merged)]
        boxes = merged


def merge_cheap(boxes: Iterable[Box], slack: int, most: int) -> list[Box]:
    """Join boxes whose bounding box costs at most ``slack`` pixels more than the two apart, until none
    do (redoing a few pixels twice is cheaper than another call per box); more than ``most`` boxes become
    their bounding box at once (pairwise merging is O(n²))."""
    boxes = sorted(set(boxes))
    if len(boxes) > most:
        return [bounding(boxes)]
    changed = True
    while changed:
        changed, merged = False, []
        for box in boxes:
            for i, other in enumerate(merged):
                union = bounding([box, other])
                if area(union) <= area(box) + area(other) + slack:
                    merged[i], changed = union, True
                    break
            else:
                merged.append(box)
        boxes = merged
    return boxes


def changed_box(new: Image.Image, old: Image.Image) -> Box | None:
    """The bounding box of the pixels that differ between two images of one region, or None."""
    from PIL import ImageChops

    return ImageChops.difference(new, old).getbbox()
