"""A loopback adb server speaking the real smart-socket protocol, with simulated phones behind it.

Each request is ``<4 hex digits length><payload>``; the reply is ``OKAY`` (plus a hex-length block
for queries) or ``FAIL<len><message>``. Host services (``host:version``, ``host:devices``,
``host:tport:serial:<s>`` → OKAY + 8-byte transport id, ``host-serial:<s>:features`` …) pick a device;
then ``shell:<cmd>`` / ``exec:<cmd>`` run a command and stream its output until close. Both adbutils
and the Debian ``adb`` client work against it. Devices can be made unauthorized, offline or absent to
test error paths.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from dataclasses import dataclass

from environments.android_sim.phone import Phone
from environments.android_sim.shell import run

ADB_VERSION = 41  # the client kills and restarts a server whose version differs from its own


@dataclass
class Device:
    serial: str
    phone: Phone
    state: str = "device"  # device | unauthorized | offline
    transport_id: int = 1


class AdbSimServer:
    """Serves ``devices`` on ``host:port`` (port 0 picks a free one) from a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.devices: dict[str, Device] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, port), Handler)
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    # -- devices ------------------------------------------------------------------------------------
    def add(self, serial: str, phone: Phone | None = None, state: str = "device") -> Phone:
        phone = phone or Phone()
        self.devices[serial] = Device(serial, phone, state, transport_id=len(self.devices) + 1)
        return phone

    def remove(self, serial: str) -> Device | None:
        """Unplug a device (it disappears from ``host:devices``); ``restore`` plugs it back."""
        return self.devices.pop(serial, None)

    def restore(self, device: Device) -> None:
        self.devices[device.serial] = device

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> AdbSimServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="adb-sim", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> AdbSimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- protocol -----------------------------------------------------------------------------------
    def _serve(self, sock: socket.socket) -> None:
        device: Device | None = None
        try:
            while True:
                request = _read_request(sock)
                if request is None:
                    return
                self.requests.append(request)
                if request.startswith(("shell:", "exec:")):
                    if device is None:
                        return _fail(sock, "no device selected: send host:transport first")
                    command = request.split(":", 1)[1]
                    output = run(device.phone, command) if command.strip() else b""
                    sock.sendall(b"OKAY")
                    sock.sendall(output)
                    return
                if request.startswith(("shell,", "sync:", "framebuffer:", "reverse:", "root:", "tcpip:")):
                    return _fail(sock, f"'{request.split(':', 1)[0]}' is not supported by the simulated device")
                result = self._host(sock, request)
                if isinstance(result, Device):
                    device = result
                elif result is False:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            sock.close()

    def _host(self, sock: socket.socket, request: str) -> Device | bool:
        """Answer a host service; returns the device a transport request selected, False to hang up."""
        if request in ("host:version", "host:host-features", "host:features"):
            body = f"{ADB_VERSION:04x}" if request == "host:version" else ""
            return _okay(sock, body)
        if request in ("host:devices", "host:devices-l"):
            long = request.endswith("-l")
            lines = [f"{d.serial}\t{d.state}" + (f" product:sim model:SimPhone device:sim transport_id:{d.transport_id}"
                                                 if long else "") for d in self.devices.values()]
            return _okay(sock, "".join(line + "\n" for line in lines))
        if request == "host:kill":
            sock.sendall(b"OKAY")  # the simulator keeps running; stop it from its own process
            return False
        for prefix in ("host:tport:serial:", "host:transport:"):
            if request.startswith(prefix):
                return self._switch(sock, self._by_serial(request[len(prefix):]), request[len(prefix):],
                                    tport=prefix.startswith("host:tport"))
        if request.startswith("host:transport-id:"):
            tid = int(request.rsplit(":", 1)[1])
            match = next((d for d in self.devices.values() if d.transport_id == tid), None)
            return self._switch(sock, match, f"transport id {tid}", tport=False)
        for prefix in ("host:tport:", "host:transport-"):
            if request.startswith(prefix):  # any | usb | local
                ready = list(self.devices.values())
                if len(ready) != 1:
                    return _fail(sock, "more than one device/emulator" if ready else "no devices/emulators found")
                return self._switch(sock, ready[0], ready[0].serial, tport=prefix == "host:tport:")
        if request.startswith("host-serial:"):
            serial, service = self._split_serial(request[len("host-serial:"):])
            device = self._by_serial(serial)
            if device is None:
                return _fail(sock, f"device '{serial}' not found")
            answers = {"features": "", "get-state": device.state, "get-serialno": device.serial,
                       "get-devpath": "usb:sim"}
            if service in answers:
                return _okay(sock, answers[service])
            return _fail(sock, f"unsupported host service: {service}")
        return _fail(sock, f"unknown host service: {request}")

    def _switch(self, sock: socket.socket, device: Device | None, serial: str, *, tport: bool) -> Device | bool:
        if device is None:
            return _fail(sock, f"device '{serial}' not found")
        if device.state == "unauthorized":
            return _fail(sock, "device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is not set\n"
                               "Try 'adb kill-server' if that seems wrong.\nOtherwise check for a confirmation "
                               "dialog on your device.")
        if device.state != "device":
            return _fail(sock, f"device {device.state}")
        sock.sendall(b"OKAY" + (device.transport_id.to_bytes(8, "little") if tport else b""))
        return device

    def _by_serial(self, serial: str) -> Device | None:
        return self.devices.get(serial)

    def _split_serial(self, rest: str) -> tuple[str, str]:
        """``host-serial:<serial>:<service>`` where the serial may itself hold colons (ip:port)."""
        for serial in sorted(self.devices, key=len, reverse=True):
            if rest.startswith(serial + ":"):
                return serial, rest[len(serial) + 1:]
        serial, _, service = rest.rpartition(":")
        return serial, service


def _read_request(sock: socket.socket) -> str | None:
    header = _read_exact(sock, 4)
    if header is None:
        return None
    body = _read_exact(sock, int(header, 16))
    return None if body is None else body.decode("utf-8", "replace")


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _okay(sock: socket.socket, body: str) -> bool:
    """Answer a query and hang up (the adb client waits for the close before it goes on)."""
    data = body.encode()
    sock.sendall(b"OKAY" + f"{len(data):04x}".encode() + data)
    return False


def _fail(sock: socket.socket, message: str) -> bool:
    data = message.encode()
    sock.sendall(b"FAIL" + f"{len(data):04x}".encode() + data)
    return False
