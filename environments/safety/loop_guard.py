"""`LoopGuard`: notices when actions stop changing anything, tells the model, and ends a hopeless episode.

After every screen action it looks at the screen the next step will see (it hands that same observation
to the loop, so nothing is captured twice) and records whether it visibly changed: the environment's
damage report says "nothing" for free when it has one, otherwise pixels are compared (a handful of
changed pixels counts as a change: a false "unchanged" would mislead the model, a false "changed" only
makes the guard lenient). Each step is fingerprinted by its action and the screen it was chosen on
(screens that differ only by a blinking caret, a thin vertical line, are the same screen). Two counters:

- ``repeats``: how often this action was already taken on this same screen (a loop, or a ping-pong
  between two screens that keeps coming back);
- ``unchanged``: consecutive actions after which the screen did not change (useless moves).

When either reaches ``warn_after`` the model reads it in its history; at ``stop_after`` the episode ends
with outcome ``stuck``. Defaults: warn after 3, stop after 6.

Without a damage report the pixel comparison is made cheap by column runs: each screenshot is reduced
once (Pillow's C box filter, no full-size copy) to its "runs", every column kept and every ``run`` rows
averaged (``run`` = width // 256, at most 16: 7 at 1920 px, 5 at 1280). Equal runs mean "unchanged"; runs that
differ strongly in a few places mean "changed"; a faint difference is settled exactly on the full-size
pixels inside the region where the runs differ. What the runs are guaranteed to see: any change that
moves the sum of one channel over some run of ``run`` pixels of a column by at least ``run`` -- so any
single pixel that changes by ``run`` or more (the threshold for "visible" is 24) unless pixels of its own
short column run change the opposite way. On a plain area a caret, a tick, a 1-px focus ring or border appearing or
disappearing, and a vertical line moving sideways by any amount, are always seen. What they can miss: a
change that cancels inside every column run, in practice a horizontal 1-px line moved up or down by
fewer than ``run`` pixels without leaving its run (a solid shape taller than ``run``, or a shift of
``run`` or more, is seen).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image, ImageChops

from agent.rects import Box
from environments.base import Command, Damage, Environment, Observation, StepResult
from environments.wrappers import Wrapper

WARN_AFTER, STOP_AFTER = 3, 6
NOT_SCREEN_ACTIONS = ("terminate", "answer")
PIXEL_LEVEL = 24  # a channel difference below this is encoding noise, not a visible change
CHANGED_PIXELS = 4  # fewer differing channel samples than this is no change
THUMB = 256  # screens are told apart at about this width ...
SAME_SCREEN_PIXELS = 6  # ... and are the same screen when fewer pixels than this differ,
CARET_WIDTH = 2  # or when every difference lies in one column this narrow (a blinking text caret)
MAX_RUN = 16  # column runs (width // THUMB rows) never longer: a single pixel changing by 16 (< 24) shows


def run_length(width: int) -> int:
    """Rows averaged into one sample of a column run, for a screenshot this wide."""
    return min(MAX_RUN, max(1, width // THUMB))


class _Screen:
    """A screenshot the guard compares with the next one; its runs and thumbnail are made only when needed."""

    def __init__(self, observation: Observation, thumb: np.ndarray | None = None) -> None:
        self.image, self.frame, self._thumb = observation.screenshot, observation.frame, thumb
        self.run = run_length(self.image.width)
        self._runs: Image.Image | None = None

    @property
    def runs(self) -> Image.Image:
        """Every column kept, every ``run`` rows averaged: one C pass over the screenshot, 1/run of its size."""
        if self._runs is None:
            image = self.image if self.image.mode == "RGB" else self.image.convert("RGB")
            self._runs = image.reduce((1, self.run))
        return self._runs

    @property
    def thumb(self) -> np.ndarray:
        """Small and grey, for "is this a screen seen before" (box-filtered: a 1-px detail fades, a widget stays)."""
        if self._thumb is None:  # from the runs when they were made (no damage report), else in one pass
            small = self._runs.reduce((self.run, 1)) if self._runs is not None else self.image.reduce(self.run)
            self._thumb = np.asarray(small.convert("L"), dtype=np.int16)
        return self._thumb


class LoopGuard(Wrapper):
    """Records ``info["guard"]`` per step; notes for the model; ``stuck`` after ``stop_after``."""

    def __init__(self, env: Environment, *, warn_after: int = WARN_AFTER, stop_after: int = STOP_AFTER) -> None:
        super().__init__(env)
        if warn_after < 1 or stop_after < warn_after:
            raise ValueError(f"need 1 <= warn_after <= stop_after, got {warn_after} and {stop_after}")
        self.warn_after, self.stop_after = warn_after, stop_after
        self._reset_state()

    def _reset_state(self) -> None:
        self._screens: list[np.ndarray] = []  # thumbnails of distinct screens seen, in order
        self._counts: dict[tuple[str, int], int] = {}
        self._current: _Screen | None = None
        self._pending: Observation | None = None
        self.unchanged = 0

    def reset(self) -> Observation:
        self._reset_state()
        return self._look(self.env.reset())

    def observe(self) -> Observation:
        if self._pending is not None:  # taken right after the last action: the screen as it is now
            observation, self._pending = self._pending, None
            return observation
        return self._look(self.env.observe())

    def execute(self, command: Command) -> StepResult:
        result = self.env.execute(command)
        if command.name in NOT_SCREEN_ACTIONS or result.done or self._current is None:
            return result
        before = self._current
        fingerprint = (json.dumps(command.action.to_json_dict(), sort_keys=True), self._screen_id(before.thumb))
        repeats = self._counts.get(fingerprint, 0) + 1
        self._counts[fingerprint] = repeats
        after = self._pending = self.env.observe()
        self._current = _Screen(after)
        changed, by = self._judge(before, self._current, after.damage)
        if not changed:
            self._current._thumb = before.thumb  # the same screen: the same fingerprint
        self.unchanged = 0 if changed else self.unchanged + 1
        notes = list(result.notes)
        if not changed:
            notes.append("the screen did not change")
        guard: dict[str, Any] = {"changed": changed, "by": by, "repeats": repeats, "unchanged_in_a_row": self.unchanged}
        worst = max(repeats, self.unchanged)
        if worst >= self.stop_after:
            why = (f"the same action on the same screen {repeats} times" if repeats >= self.stop_after
                   else f"{self.unchanged} actions in a row without changing the screen")
            guard["note"] = f"stuck: {why}"
            return replace(result, done=True, outcome="stuck", reason=f"the agent is stuck: {why}",
                           info={**result.info, "guard": guard}, notes=tuple(notes))
        if worst >= self.warn_after:
            guard["note"] = (f"you have done this {repeats} times on this same screen" if repeats >= self.warn_after
                             else f"{self.unchanged} actions in a row changed nothing")
            notes.append(f"{guard['note']}; try something different")
        return replace(result, info={**result.info, "guard": guard}, notes=tuple(notes))

    def _judge(self, before: _Screen, after: _Screen, damage: Damage | None) -> tuple[bool, str]:
        """Whether the action visibly changed the screen, and what told (the bench swaps in the old way)."""
        return _changed(before, after, damage)

    def _look(self, observation: Observation) -> Observation:
        self._current = _Screen(observation)
        return observation

    def _screen_id(self, thumb: np.ndarray) -> int:
        for index, seen in enumerate(self._screens):
            if seen.shape == thumb.shape and _same_screen(seen, thumb):
                return index
        self._screens.append(thumb)
        return len(self._screens) - 1

    def describe(self) -> dict[str, Any]:
        return self.env.describe() | {"loop_guard": {"warn_after": self.warn_after, "stop_after": self.stop_after}}


def _same_screen(a: np.ndarray, b: np.ndarray) -> bool:
    differ = np.abs(a - b) > PIXEL_LEVEL
    if int(differ.sum()) < SAME_SCREEN_PIXELS:
        return True
    columns = np.flatnonzero(differ.any(axis=0))
    rows = np.flatnonzero(differ.any(axis=1))
    return columns[-1] - columns[0] < CARET_WIDTH and rows[-1] - rows[0] < a.shape[0] // 8


def _changed(before: _Screen, after: _Screen, damage: Damage | None) -> tuple[bool, str]:
    """Whether the screen visibly changed, and what told: the environment's damage report or pixels.

    With a damage report only its rectangles are compared; without one, the column runs, then the full-size
    pixels where the runs differ only faintly."""
    fresh = damage is not None and damage.since == before.frame
    if fresh and not damage.boxes:
        return False, "damage"  # nothing was drawn since the screen the action was chosen on
    if before.image is after.image:
        return False, "same image"
    if before.image.size != after.image.size:
        return True, "size"
    if fresh:
        return _differing(before.image, after.image, damage.boxes) >= CHANGED_PIXELS, "damage+pixels"
    difference = ImageChops.difference(before.runs, after.runs)
    box = difference.getbbox()
    if box is None:
        return False, "pixels"
    # Rounded run means more than PIXEL_LEVEL apart: the true means are at least PIXEL_LEVEL apart, so one of the
    # run's pixels moved that much. Enough such runs decide "changed" without the full-size screenshot.
    if _at_least(difference.histogram(), PIXEL_LEVEL + 1) >= CHANGED_PIXELS:
        return True, "pixels"
    left, top, right, bottom = box
    region = (left, top * before.run, right, min(before.image.height, bottom * before.run))
    return _differing(before.image, after.image, [region]) >= CHANGED_PIXELS, "pixels"


def _differing(a: Image.Image, b: Image.Image, boxes: Iterable[Box]) -> int:
    """Channel samples that differ by at least PIXEL_LEVEL inside ``boxes``."""
    total = 0
    for box in boxes:
        x, y = a.crop(box), b.crop(box)
        if x.mode != "RGB" or y.mode != "RGB":
            x, y = x.convert("RGB"), y.convert("RGB")
        total += _at_least(ImageChops.difference(x, y).histogram(), PIXEL_LEVEL)
    return total


def _at_least(histogram: list[int], level: int) -> int:
    """Samples of a difference image's histogram (any number of bands) at ``level`` or above."""
    return sum(sum(histogram[band * 256 + level:(band + 1) * 256]) for band in range(len(histogram) // 256))
