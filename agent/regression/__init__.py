"""Recorded sessions as GUI regression tests: live replay with drift detection and visual healing.

``from agent.regression import LiveReplay, LiveOptions`` (imported on first use: the CLI loads this
package to build its parser and should stay quick).
"""

from __future__ import annotations

from typing import Any

__all__ = ["LiveOptions", "LiveReplay", "ReplayReport"]


def __getattr__(name: str) -> Any:
    if name in ("LiveOptions", "LiveReplay"):
        from agent.regression import live

        return getattr(live, name)
    if name == "ReplayReport":
        from agent.regression.report import ReplayReport

        return ReplayReport
    raise AttributeError(name)
