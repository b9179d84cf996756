"""Screenshots of one monitor kept up to date from X DAMAGE: grab only what was drawn.

Each step asks the `DamageTracker` what was drawn since the last screenshot, grabs only those
rectangles (mss, XShm), narrows each to the pixels that really changed (apps repaint a whole widget
for one glyph) and pastes them onto a copy of the last screenshot. Ownership is plain: a screenshot
handed out is never changed again, by anyone, so nothing needs to know who still holds it; a step that
drew nothing hands out the same image again. What changed is returned as a `Damage`, so the loop
resizes and the trajectory encodes only that.

DAMAGE is a hint, as x11vnc treats it: every `VERIFY_EVERY` steps a full grab is compared with the
previous screenshot, and a changed pixel outside everything reported sets `missed`; the environment
then goes back to full grabs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agent.rects import Box, changed_box, clip, merge_near, total_area
from environments.base import Damage, Observation
from environments.x11.damage import DamageTracker

if TYPE_CHECKING:
    from PIL import Image

VERIFY_EVERY = 20  # every this many incremental screenshots, check the damage against a full grab
FULL_GRAB_SHARE = 0.5  # when damage covers more of the monitor than this, one full grab is cheaper


class DamageCapture:
    """Incremental screenshots of ``monitor`` (an mss monitor dict) through ``sct`` and ``tracker``."""

    def __init__(self, sct, monitor: dict, tracker: DamageTracker) -> None:
        self.sct, self.monitor, self.tracker = sct, monitor, tracker
        self.unverified = 0
        self.missed: list[int] | None = None  # where a check found drawing DAMAGE did not report

    def restart(self) -> None:
        """A full grab is about to be taken: what is drawn from now on is reported next time."""
        self.tracker.collect()

    def settled(self, quiet: float, timeout: float) -> list[Box]:
        """Everything drawn until nothing more is drawn for ``quiet`` seconds (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        drawn = self.tracker.collect()
        while quiet and time.monotonic() < deadline:  # quiet 0: take what is drawn by now
            time.sleep(quiet)
            more = self.tracker.collect()
            if not more:
                break
            drawn += more
        return drawn

    def next(self, last: Observation, drawn: list[Box]) -> tuple[Image.Image, Damage]:
        """``last``'s screenshot with ``drawn`` (root coordinates) grabbed anew, and what changed
        (a new image when anything changed; ``last.screenshot`` itself, untouched, when nothing did)."""
        m = self.monitor
        self.unverified += 1
        if self.unverified >= VERIFY_EVERY:
            self.unverified = 0
            return self._verified(last, drawn)
        boxes = merge_near(clip(drawn, self._bounds()))
        if total_area(boxes) > FULL_GRAB_SHARE * m["width"] * m["height"]:
            return rgb(self.sct.grab(m)), Damage(last.frame, ((0, 0, m["width"], m["height"]),))
        changed = []  # (box, pixels) of what really differs
        for left, top, right, bottom in boxes:
            region = {"left": m["left"] + left, "top": m["top"] + top, "width": right - left, "height": bottom - top}
            patch = rgb(self.sct.grab(region))
            tight = changed_box(patch, last.screenshot.crop((left, top, right, bottom)))
            if tight is not None:
                changed.append(((left + tight[0], top + tight[1], left + tight[2], top + tight[3]), patch.crop(tight)))
        image = last.screenshot
        if changed:
            image = image.copy()  # handed-out screenshots are immutable: patch a copy (~1 ms at 1080p)
            for box, pixels in changed:
                image.paste(pixels, box[:2])
        return image, Damage(last.frame, tuple(box for box, _ in changed))

    def _verified(self, last: Observation, drawn: list[Box]) -> tuple[Image.Image, Damage]:
        """A full grab, checked against what DAMAGE reported. Drawing that happens while we grab is in
        the image and reported again next time, so the check cannot be fooled by a race."""
        from PIL import ImageChops

        m = self.monitor
        image = rgb(self.sct.grab(m))
        later = self.tracker.collect()
        self.tracker.carry(later)
        differs = ImageChops.difference(image, last.screenshot)
        changed = []
        for box in merge_near(clip(drawn + later, self._bounds())):
            tight = differs.crop(box).getbbox()
            if tight is not None:
                changed.append((box[0] + tight[0], box[1] + tight[1], box[0] + tight[2], box[1] + tight[3]))
            differs.paste(0, box)  # reported: what is left was missed
        missed = differs.getbbox()
        if missed is not None:
            self.missed = list(missed)
            return image, Damage(last.frame, ((0, 0, m["width"], m["height"]),))
        return image, Damage(last.frame, tuple(changed))

    def _bounds(self) -> Box:
        m = self.monitor
        return m["left"], m["top"], m["left"] + m["width"], m["top"] + m["height"]

    def close(self) -> None:
        self.tracker.close()


def rgb(shot) -> Image.Image:
    """An mss grab (BGRX) as an RGB image."""
    from PIL import Image

    return Image.frombuffer("RGB", shot.size, shot.raw, "raw", "BGRX", 0, 1)
