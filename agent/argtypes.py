"""argparse types that refuse nonsense at the command line (exit 2 with the usage), before anything starts.

``--max-retries -1`` or ``--history-images 0`` used to be accepted and did something else silently.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def _bounded(kind: type, low: float, what: str) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if value < low or value != value:  # NaN compares false with everything
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


positive_int = _bounded(int, 1, "at least 1")
non_negative_int = _bounded(int, 0, "0 or more")
non_negative_float = _bounded(float, 0.0, "0 or more")


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value
