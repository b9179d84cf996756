"""Finding and launching Chromium: Debian's ``/usr/bin/chromium`` when present, else Playwright's own.

Chromium runs sandboxed: the agent visits pages a prompt injection may choose. The sandbox is turned off
only where it cannot start — as root, or where the system allows no unprivileged user namespaces and
has no setuid ``chrome-sandbox`` helper (some containers) — or when asked (``--no-browser-sandbox``);
the reason is said once per process and recorded in ``run.json`` (``environment.sandbox``).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic")  # Playwright adds --headless itself
SUID_HELPERS = ("/usr/lib/chromium/chrome-sandbox", "/opt/google/chrome/chrome-sandbox")
_said: set[str] = set()


@dataclass(frozen=True)
class Sandbox:
    """Whether Chromium's sandbox is on, and why not when it is off."""

    enabled: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sandbox_decision(disable: bool = False, *, euid: int | None = None, proc: Path = Path("/proc")) -> Sandbox:
    """On, unless asked off, running as root, or the system cannot give Chromium a sandbox."""
    if disable:
        return Sandbox(False, "turned off with --no-browser-sandbox")
    if (os.geteuid() if euid is None else euid) == 0:
        return Sandbox(False, "running as root, where Chromium refuses to start its sandbox; run as an ordinary "
                              "user to keep it")
    if not _user_namespaces(proc) and not any(_setuid(Path(p)) for p in SUID_HELPERS):
        return Sandbox(False, "this system allows no unprivileged user namespaces and has no setuid chrome-sandbox "
                              "helper (a container?); allow user namespaces to keep the sandbox")
    return Sandbox(True, "")


def _user_namespaces(proc: Path) -> bool:
    def number(name: str) -> int | None:
        try:
            return int((proc / "sys" / name).read_text().strip())
        except (OSError, ValueError):
            return None

    return (number("user/max_user_namespaces") or 0) > 0 and number("kernel/unprivileged_userns_clone") != 0 \
        and number("kernel/apparmor_restrict_unprivileged_userns") != 1


def _setuid(path: Path) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return bool(st.st_mode & 0o4000) and st.st_uid == 0


def say_once(sandbox: Sandbox) -> None:
    """Tell the user, once per process and reason, that pages run outside Chromium's sandbox."""
    if not sandbox.enabled and sandbox.reason not in _said:
        _said.add(sandbox.reason)
        sys.stderr.write(f"note: Chromium runs without its sandbox: {sandbox.reason}.\n")


def find_chromium() -> str | None:
    """Debian's chromium when installed, else None (Playwright's own browser, if the user installed one)."""
    if Path(DEBIAN_CHROMIUM).exists():
        return DEBIAN_CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


def start_playwright(headless: bool = True, sandbox: Sandbox | None = None) -> tuple[Any, dict[str, Any]]:
    """Start Playwright; returns it with the launch options for the Chromium this machine has."""
    from playwright.sync_api import sync_playwright

    if not headless and not os.environ.get("DISPLAY"):
        raise ConfigError("--headed needs an X display, but DISPLAY is not set; run without --headed, or "
                          "start one (e.g. `xvfb-run gui-agent run ...`) or use a desktop session")
    sandbox = sandbox or sandbox_decision()
    say_once(sandbox)
    # Playwright passes --no-sandbox unless chromium_sandbox is set
    options: dict[str, Any] = {"headless": headless, "args": list(CHROMIUM_ARGS), "chromium_sandbox": sandbox.enabled}
    executable = find_chromium()
    if executable:
        options["executable_path"] = executable
    return sync_playwright().start(), options


def launch_browser(headless: bool = True, sandbox: Sandbox | None = None) -> tuple[Any, Any]:
    """(playwright, browser) to share between several environments: ``BrowserEnvironment(browser=...)``.
    The caller closes the browser and stops playwright."""
    playwright, options = start_playwright(headless, sandbox)
    try:
        return playwright, playwright.chromium.launch(**options)
    except Exception as exc:
        playwright.stop()
        raise launch_error(options, exc) from None


def launch_error(options: dict[str, Any], exc: Exception) -> ConfigError:
    where = options.get("executable_path", "Playwright's bundled Chromium")
    return ConfigError(f"could not start Chromium ({where}): {str(exc).splitlines()[0]}. Install Debian's "
                       "chromium (`sudo apt-get install chromium`) or run `playwright install chromium`.")
