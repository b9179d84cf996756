"""Which parts of the screen changed, from the X server's DAMAGE extension: no pixels are compared.

A damage object on the root window collects every rectangle any client draws on the screen (without
a compositor all windows draw into the one screen pixmap the root's damage watches; with one, the
compositor draws there). `DamageTracker.collect` returns what was drawn since the last call, so the
desktop environment grabs only those rectangles and reports them as `Observation.damage`; this is how
VNC servers (x11vnc -xdamage) avoid grabbing the whole screen.

The damaged region is moved into an XFIXES region and cleared in one request (DamageSubtract with
``parts``), then fetched: nothing drawn can fall between reading and clearing. (Reading DamageNotify
events and clearing separately loses drawing: a rectangle added between the two stays in the region,
so later drawing there sends no event, and the clear then drops it silently.)

pyautogui pins the old ``python3-xlib`` fork, which lacks the DAMAGE and XFIXES region requests that
python-xlib 0.33 partly ships; the requests here follow the DAMAGE 1.1 and XFIXES 2.0 protocols.
"""

from __future__ import annotations

from Xlib.protocol import rq, structs

from agent.rects import Box

NON_EMPTY = 3  # DamageReportNonEmpty: one event when the region stops being empty (we poll instead)


class _QueryVersion(rq.ReplyRequest):  # the same request (minor opcode 0) in DAMAGE and XFIXES
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(0), rq.RequestLength(),
                         rq.Card32("major_version"), rq.Card32("minor_version"))
    _reply = rq.Struct(rq.Pad(2), rq.Card16("sequence_number"), rq.Pad(4),
                       rq.Card32("major_version"), rq.Card32("minor_version"), rq.Pad(16))


class _DamageCreate(rq.Request):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(1), rq.RequestLength(),
                         rq.Card32("damage"), rq.Drawable("drawable"), rq.Card8("level"), rq.Pad(3))


class _DamageSubtract(rq.Request):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(3), rq.RequestLength(),
                         rq.Card32("damage"), rq.Card32("repair"), rq.Card32("parts"))


class _CreateRegion(rq.Request):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(5), rq.RequestLength(),
                         rq.Card32("region"), rq.List("rectangles", structs.Rectangle))


class _FetchRegion(rq.ReplyRequest):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(19), rq.RequestLength(), rq.Card32("region"))
    _reply = rq.Struct(rq.Pad(2), rq.Card16("sequence_number"), rq.Pad(4),
                       rq.Object("extents", structs.Rectangle), rq.Pad(16),
                       rq.List("rectangles", structs.Rectangle))  # as many as the reply holds


class DamageTracker:
    """Damage of the whole root window on its own connection ``xdisplay`` (a python-xlib Display).

    `available` is False when the server lacks DAMAGE or XFIXES 2; callers then compare full grabs.
    """

    def __init__(self, xdisplay) -> None:
        self.xdisplay = xdisplay
        damage, fixes = xdisplay.query_extension("DAMAGE"), xdisplay.query_extension("XFIXES")
        self.available = bool(damage and damage.present and fixes and fixes.present)
        if not self.available:
            return
        protocol = xdisplay.display
        if _QueryVersion(display=protocol, opcode=fixes.major_opcode, major_version=5,
                              minor_version=0).major_version < 2:
            self.available = False  # regions came with XFIXES 2.0
            return
        _QueryVersion(display=protocol, opcode=damage.major_opcode, major_version=1, minor_version=1)
        self._damage_op, self._fixes_op, self._event = damage.major_opcode, fixes.major_opcode, damage.first_event
        self._carried: list[Box] = []
        self._damage, self._parts = protocol.allocate_resource_id(), protocol.allocate_resource_id()
        _CreateRegion(display=protocol, opcode=self._fixes_op, region=self._parts, rectangles=[])
        _DamageCreate(display=protocol, opcode=self._damage_op, damage=self._damage,
                      drawable=xdisplay.screen().root.id, level=NON_EMPTY)
        self.collect()

    def collect(self) -> list[Box]:
        """Rectangles (root coordinates) drawn since the last call, read and cleared atomically."""
        protocol = self.xdisplay.display
        _DamageSubtract(display=protocol, opcode=self._damage_op, damage=self._damage, repair=0, parts=self._parts)
        reply = _FetchRegion(display=protocol, opcode=self._fixes_op, region=self._parts)  # the round trip
        boxes, self._carried = self._carried, []
        boxes += [(r.x, r.y, r.x + r.width, r.y + r.height) for r in reply.rectangles]
        while self.xdisplay.pending_events():  # NonEmpty notifications: not needed, do not let them pile up
            self.xdisplay.next_event()
        return boxes

    def carry(self, boxes: list[Box]) -> None:
        """Report ``boxes`` again with the next `collect`."""
        self._carried += boxes

    def close(self) -> None:
        self.xdisplay.close()
