"""Which parts of the screen changed, from the X server's DAMAGE extension: no pixels are compared.

A damage object on the root window collects every rectangle any client draws on the screen (without
a compositor all windows draw into the one screen pixmap the root's damage watches; with one, the
compositor draws there). `DamageTracker.collect` returns what was drawn since the last call, so the
desktop environment grabs only those rectangles and reports them as `Observation.damage`; this is how
VNC servers (x11vnc -xdamage) avoid grabbing the whole screen.

pyautogui pins the old ``python3-xlib`` fork, which lacks the DAMAGE requests that python-xlib 0.33
ships (Xlib/ext/damage.py); the three requests and the event used here follow those definitions and
the DAMAGE 1.1 protocol.
"""

from __future__ import annotations

from Xlib.protocol import rq, structs

Box = tuple[int, int, int, int]
DELTA_RECTANGLES = 1  # report each rectangle newly added to the damaged region
MAX_BOXES = 16  # more than this are merged into their bounding box


class _QueryVersion(rq.ReplyRequest):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(0), rq.RequestLength(),
                         rq.Card32("major_version"), rq.Card32("minor_version"))
    _reply = rq.Struct(rq.Pad(2), rq.Card16("sequence_number"), rq.Pad(4),
                       rq.Card32("major_version"), rq.Card32("minor_version"), rq.Pad(16))


class _Create(rq.Request):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(1), rq.RequestLength(),
                         rq.Card32("damage"), rq.Drawable("drawable"), rq.Card8("level"), rq.Pad(3))


class _Subtract(rq.Request):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(3), rq.RequestLength(),
                         rq.Card32("damage"), rq.Card32("repair"), rq.Card32("parts"))


class DamageNotify(rq.Event):
    _code = None
    _fields = rq.Struct(rq.Card8("type"), rq.Card8("level"), rq.Card16("sequence_number"),
                        rq.Drawable("drawable"), rq.Card32("damage"), rq.Card32("timestamp"),
                        rq.Object("area", structs.Rectangle), rq.Object("geometry", structs.Rectangle))


class DamageTracker:
    """Damage of the whole root window on its own connection ``xdisplay`` (a python-xlib Display).

    `available` is False when the server has no DAMAGE extension; callers then compare full grabs.
    """

    def __init__(self, xdisplay) -> None:
        self.xdisplay = xdisplay
        info = xdisplay.query_extension("DAMAGE")
        self.available = bool(info and info.present)
        if not self.available:
            return
        self._opcode, self._event = info.major_opcode, info.first_event
        self._carried: list[Box] = []
        xdisplay.extension_add_event(self._event, DamageNotify)
        _QueryVersion(display=xdisplay.display, opcode=self._opcode, major_version=1, minor_version=1)
        self._damage = xdisplay.display.allocate_resource_id()
        _Create(display=xdisplay.display, opcode=self._opcode, damage=self._damage,
                drawable=xdisplay.screen().root.id, level=DELTA_RECTANGLES)
        self.collect()

    def collect(self) -> list[Box]:
        """Rectangles (root coordinates) drawn since the last call; the damage is then cleared.

        Clearing first and syncing after means a drawing that races with this call is either reported
        now or in the next call, never lost. The round trip that syncs is a pointer query, so `pointer`
        is where the pointer was then.
        """
        display = self.xdisplay
        _Subtract(display=display.display, opcode=self._opcode, damage=self._damage, repair=0, parts=0)
        # a round trip: every event of drawing the server did before it is in our queue
        reply = display.screen().root.query_pointer()
        self.pointer = (reply.root_x, reply.root_y)
        boxes, self._carried = self._carried, []
        while display.pending_events():
            event = display.next_event()
            if event.type == self._event:
                a = event.area
                boxes.append((a.x, a.y, a.x + a.width, a.y + a.height))
        return boxes

    def carry(self, boxes: list[Box]) -> None:
        """Report ``boxes`` again with the next `collect`."""
        self._carried += boxes

    def close(self) -> None:
        self.xdisplay.close()


def clip(boxes: list[Box], bounds: Box) -> list[Box]:
    """``boxes`` cut to ``bounds`` and moved to its top-left; empty ones dropped."""
    bl, bt, br, bb = bounds
    out = []
    for left, top, right, bottom in boxes:
        box = (max(left, bl) - bl, max(top, bt) - bt, min(right, br) - bl, min(bottom, bb) - bt)
        if box[0] < box[2] and box[1] < box[3]:
            out.append(box)
    return out


def merge(boxes: list[Box], gap: int = 16) -> list[Box]:
    """Fewer, larger boxes covering ``boxes``: boxes closer than ``gap`` px are joined; many become one."""
    merged: list[Box] = []
    for box in sorted(boxes):
        for i, other in enumerate(merged):
            if (box[0] <= other[2] + gap and other[0] <= box[2] + gap
                    and box[1] <= other[3] + gap and other[1] <= box[3] + gap):
                merged[i] = bounding([box, other])
                break
        else:
            merged.append(box)
    if len(merged) != len(boxes):  # a join can make a box reach others: repeat until stable
        return merge(merged, gap)
    return merged if len(merged) <= MAX_BOXES else [bounding(merged)]


def bounding(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def area(boxes: list[Box]) -> int:
    return sum((right - left) * (bottom - top) for left, top, right, bottom in boxes)


def changed_box(new, old) -> Box | None:
    """The bounding box of the pixels that differ between two images (PIL) of one region, or None."""
    from PIL import ImageChops

    return ImageChops.difference(new, old).getbbox()
