"""`AdbLink`: one device behind an adb server, found and checked once, retried when the link drops.

adbutils starts its bundled adb server whenever a connection to the port fails; here that fallback is
switched off, so a missing server is a clear `ConfigError` (at start) or `DeviceUnavailable` (mid
episode) instead of a surprise daemon. Shell calls that fail at the transport level are retried with
exponential backoff, re-checking the device's state between tries (tenacity).
"""

from __future__ import annotations

import os
import socket
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from agent.errors import ConfigError, EnvironmentFailure

DEFAULT_PORT = 5037


class DeviceUnavailable(EnvironmentFailure):
    """The device or its adb server went away and did not come back within the retry window."""


class _Transient(Exception):
    """A transport-level failure worth retrying (connection refused/reset, device briefly absent)."""


def _client(host: str, port: int, timeout: float):
    """An adbutils client that never spawns an adb server of its own."""
    from adbutils import AdbClient
    from adbutils._adb import AdbConnection

    class Connection(AdbConnection):
        def _safe_connect(self):  # the stock one runs `adb start-server` on failure
            return self._create_socket()

        def close(self) -> None:  # the stock one sleeps 10 ms after shutdown, on every request
            if not self.closed:
                self.conn.close()
                self._AdbConnection__conn = None

    class Client(AdbClient):
        version: int | None = None

        def make_connection(self, timeout: float | None = None) -> AdbConnection:
            conn = Connection(self.host, self.port)
            conn.conn.settimeout(timeout or self._timeout)
            return conn

        def server_version(self) -> int:  # asked before every shell call; the answer does not change
            if self.version is None:
                self.version = super().server_version()
            return self.version

    client = Client(host=host, port=port)
    client._timeout = timeout
    return client


def ready_serials(host: str | None = None, port: int | None = None) -> list[str]:
    """Serials of the devices in state "device" on the adb server (for one device per evaluation worker)."""
    host = host or os.environ.get("ANDROID_ADB_SERVER_HOST", "127.0.0.1")
    port = int(port or os.environ.get("ANDROID_ADB_SERVER_PORT", DEFAULT_PORT))
    from adbutils.errors import AdbError

    try:
        return [d.serial for d in _client(host, port, 20.0).list() if d.state == "device"]
    except (AdbError, OSError, EOFError) as exc:
        raise ConfigError(f"the adb server at {host}:{port} failed: {exc}. Start one (`adb start-server`, or "
                          f"`python -m environments.android_sim --port {port}`) or fix --adb-host/--adb-port.") from None


class AdbLink:
    """Shell access to one device. ``serial`` None picks the only device (or $ANDROID_SERIAL)."""

    def __init__(self, serial: str | None = None, host: str | None = None, port: int | None = None, *,
                 retry_seconds: float = 15.0, timeout: float = 20.0) -> None:
        self.host = host or os.environ.get("ANDROID_ADB_SERVER_HOST", "127.0.0.1")
        self.port = int(port or os.environ.get("ANDROID_ADB_SERVER_PORT", DEFAULT_PORT))
        self.requested = serial or os.environ.get("ANDROID_SERIAL") or None
        self.retry_seconds, self.timeout = retry_seconds, timeout
        self.reconnects = 0
        self._client = _client(self.host, self.port, timeout)
        self.serial = self._resolve(config_errors=True)
        self.requested = self.serial  # a reconnect must find this very device again
        self._device = self._client.device(self.serial)

    # -- finding the device ------------------------------------------------------------------------------
    def _server_up(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=2):
                return True
        except OSError:
            return False

    def _resolve(self, *, config_errors: bool) -> str:
        """The serial to use; a `ConfigError` explaining the fix when no usable device is there."""
        where = f"{self.host}:{self.port}"
        if not self._server_up():
            raise (ConfigError if config_errors else _Transient)(
                f"no adb server answers at {where}. Start one (`adb start-server`, or the simulated phone: "
                f"`python -m environments.android_sim --port {self.port}`), or point --adb-host/--adb-port "
                f"(or $ANDROID_ADB_SERVER_PORT) at a running one; gui-agent never starts an adb server itself.")
        from adbutils.errors import AdbError

        try:
            devices = {d.serial: d.state for d in self._client.list()}
        except (AdbError, OSError, EOFError) as exc:
            raise (ConfigError if config_errors else _Transient)(f"the adb server at {where} failed: {exc}") from None
        listing = ", ".join(f"{s} ({st})" for s, st in devices.items()) or "none"
        if self.requested is None:
            if not devices:
                if not config_errors:
                    raise _Transient(f"no device at {where}")
                raise ConfigError(f"the adb server at {where} lists no device. Connect a phone with USB debugging "
                                  f"on, start an emulator, or run the simulated phone "
                                  f"(`python -m environments.android_sim --port {self.port}`), then retry.")
            if len(devices) > 1:
                raise ConfigError(f"{len(devices)} devices are attached to {where}: {listing}. "
                                  f"Choose one with --serial SERIAL.")
            serial = next(iter(devices))
        else:
            serial = self.requested
            if serial not in devices:
                if not config_errors:
                    raise _Transient(f"device {serial} is not attached to {where}")
                raise ConfigError(f"no device with serial {serial!r} at {where}; attached: {listing}. "
                                  f"Check `adb devices` and the --serial value.")
        state = devices[serial]
        if state == "unauthorized":
            raise ConfigError(f"device {serial} is unauthorized: unlock it and accept the 'Allow USB debugging' "
                              f"prompt (tick 'Always allow'), then retry.")
        if state == "offline":
            if not config_errors:
                raise _Transient(f"device {serial} is offline")
            raise ConfigError(f"device {serial} is offline: reconnect the cable or run `adb reconnect`, wait until "
                              f"`adb devices` shows it as 'device', then retry.")
        if state != "device":
            raise ConfigError(f"device {serial} is in state {state!r}; boot it normally (not recovery/bootloader).")
        return serial

    # -- talking to it -----------------------------------------------------------------------------------
    def shell(self, command: str, *, binary: bool = False, timeout: float | None = None) -> Any:
        """Run ``command`` in the device's shell; output as text (or bytes), retried across link drops."""
        from adbutils.errors import AdbError

        def once() -> Any:
            try:
                out = self._read_shell(command, timeout or self.timeout)
            except (AdbError, OSError, EOFError) as exc:
                raise _Transient(str(exc) or type(exc).__name__) from exc
            return out if binary else out.decode("utf-8", "replace").rstrip("\n")

        try:
            return once()
        except _Transient:
            pass
        retrying = Retrying(stop=stop_after_delay(self.retry_seconds), wait=wait_exponential(0.1, max=2.0),
                            retry=retry_if_exception_type(_Transient), reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    self._reconnect()
                    return once()
        except (_Transient, ConfigError) as exc:
            raise DeviceUnavailable(f"lost device {self.serial} at {self.host}:{self.port} and it did not come back "
                                    f"within {self.retry_seconds:g} s: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_shell(self, command: str, timeout: float) -> bytes:
        """``shell:<command>`` output until the device closes the stream, read in large chunks
        (adbutils' own reader appends 4 KiB at a time, quadratic on a 10 MB raw screenshot)."""
        conn = self._device.shell(command, stream=True)
        sock = conn.conn
        try:
            sock.settimeout(timeout)
            chunks = []
            while chunk := sock.recv(1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            sock.close()

    def _reconnect(self) -> None:
        self.reconnects += 1
        self._client.version = None  # the server may have been restarted
        serial = self._resolve(config_errors=False)
        if serial != self.serial:
            raise _Transient(f"device {self.serial} was replaced by {serial}")
        self._device = self._client.device(serial)

    def describe(self) -> dict[str, Any]:
        return {"serial": self.serial, "adb": f"{self.host}:{self.port}"}
