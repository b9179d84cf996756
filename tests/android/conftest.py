"""Fixtures: a simulated phone behind a loopback adb server on a free port (never 5037)."""

from __future__ import annotations

import os
import shutil

import pytest

from agent.geometry import Size
from environments.android_sim import AdbSimServer, Phone


@pytest.fixture
def adb_server(monkeypatch):
    """A started `AdbSimServer` with no devices; ANDROID_ADB_SERVER_PORT points at it for the test."""
    with AdbSimServer("127.0.0.1", 0) as server:
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
        monkeypatch.delenv("ANDROID_SERIAL", raising=False)
        yield server


@pytest.fixture
def phone(adb_server) -> Phone:
    """One 1080x2400 phone, serial emulator-5554."""
    return adb_server.add("emulator-5554", Phone(Size(1080, 2400)))


@pytest.fixture
def env(adb_server, phone):
    from environments.android.env import AndroidEnvironment

    with AndroidEnvironment("emulator-5554", port=adb_server.port, settle=0, retry_seconds=2) as environment:
        yield environment


@pytest.fixture
def adb_binary() -> str:
    path = shutil.which("adb")
    if path is None:
        pytest.fail("the `adb` client is missing: install the Debian package `adb` (make system-deps)")
    return path


def adb_env(server: AdbSimServer) -> dict[str, str]:
    return dict(os.environ, ANDROID_ADB_SERVER_PORT=str(server.port))
