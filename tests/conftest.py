"""Fixtures shared by every test directory: the loopback demo apps, one real Chromium per module, Ray."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.ray_cluster"]  # ray_address: one local Ray instance per session, started on demand


def require_chromium() -> None:
    """Fail loudly (never skip) when the machine has no Chromium."""
    from environments.chromium import find_chromium

    if find_chromium() is None:
        pytest.fail("Chromium is missing: install Debian's chromium (`make system-deps`) — these tests need a real "
                    "browser", pytrace=False)


@pytest.fixture(scope="session")
def server():
    """The loopback web apps (demo app, probe pages), once per session."""
    from environments.webapps import WebAppServer

    with WebAppServer() as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module; each environment opens its own context (size, scale) in it."""
    from environments.chromium import launch_browser

    require_chromium()
    playwright, shared = launch_browser()
    yield shared
    shared.close()
    playwright.stop()
