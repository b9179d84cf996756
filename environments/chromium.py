"""Finding and launching Chromium: Debian's ``/usr/bin/chromium`` when present, else Playwright's own."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic")  # Playwright adds --headless itself


def find_chromium() -> str | None:
    """Debian's chromium when installed, else None (Playwright's own browser, if the user installed one)."""
    if Path(DEBIAN_CHROMIUM).exists():
        return DEBIAN_CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


def start_playwright(headless: bool = True) -> tuple[Any, dict[str, Any]]:
    """Start Playwright; returns it with the launch options for the Chromium this machine has."""
    from playwright.sync_api import sync_playwright

    if not headless and not os.environ.get("DISPLAY"):
        raise ConfigError("--headed needs an X display, but DISPLAY is not set; run without --headed, or "
                          "start one (e.g. `xvfb-run gui-agent run ...`) or use a desktop session")
    options: dict[str, Any] = {"headless": headless, "args": list(CHROMIUM_ARGS)}
    executable = find_chromium()
    if executable:
        options["executable_path"] = executable
    return sync_playwright().start(), options


def launch_browser(headless: bool = True) -> tuple[Any, Any]:
    """(playwright, browser) to share between several environments: ``BrowserEnvironment(browser=...)``.
    The caller closes the browser and stops playwright."""
    playwright, options = start_playwright(headless)
    try:
        return playwright, playwright.chromium.launch(**options)
    except Exception as exc:
        playwright.stop()
        raise launch_error(options, exc) from None


def launch_error(options: dict[str, Any], exc: Exception) -> ConfigError:
    where = options.get("executable_path", "Playwright's bundled Chromium")
    return ConfigError(f"could not start Chromium ({where}): {str(exc).splitlines()[0]}. Install Debian's "
                       "chromium (`sudo apt-get install chromium`) or run `playwright install chromium`.")
