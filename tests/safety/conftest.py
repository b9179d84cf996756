"""The demo web app on loopback and a way to run `gui-agent` in a subprocess with what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from environments.chromium import find_chromium

ROOT = Path(__file__).resolve().parents[2]
GUI_AGENT = Path(sys.executable).parent / "gui-agent"


@pytest.fixture
def gui_agent():
    """``gui_agent(*args, input="", env={})`` -> CompletedProcess of the real command line (text, captured)."""
    if find_chromium() is None:
        pytest.fail("Chromium is missing: install Debian's chromium (`make system-deps`)", pytrace=False)

    def run(*args: str, input: str = "", env: dict[str, str] | None = None, timeout: float = 180):
        environ = os.environ | {"COLUMNS": "160", "NO_COLOR": "1"} | (env or {})
        return subprocess.run([str(GUI_AGENT), *args], cwd=ROOT, env=environ, input=input, capture_output=True,
                              text=True, timeout=timeout)

    return run


