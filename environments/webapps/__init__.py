"""Local web apps the project serves on loopback: the demo app and the test pages.

`WebAppServer` serves this directory (``/demo/`` is the Acme Workspace demo app, ``/probe.html`` the
test page with input listeners) on 127.0.0.1 at a free port, and keeps the demo app's last published
state (``POST``/``GET /state``). Tasks on the demo app are plain data with a check on that state.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent


class _Handler(SimpleHTTPRequestHandler):
    server: WebAppServer

    def log_message(self, *args: Any) -> None:  # quiet: the agent's output is what matters
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/state":
            self._json(self.server.state)
        elif path == "/delay":  # a slow endpoint, to test that the settle waits for requests in flight
            ms = float(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("ms", "0"))
            time.sleep(min(ms, 5000) / 1000)
            self._json({"delayed_ms": ms})
        else:
            super().do_GET()

    def do_POST(self) -> None:
        if self.path.split("?")[0] != "/state":
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self.server.state = json.loads(body or b"{}")
        except json.JSONDecodeError:
            self.send_error(400, "state must be JSON")
            return
        self._json({"ok": True})

    def _json(self, data: Any) -> None:
        payload = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class WebAppServer(ThreadingHTTPServer):
    """``with WebAppServer() as server: server.url("demo/")`` — loopback only, free port, own thread."""

    daemon_threads = True

    def __init__(self, root: Path = ROOT, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), partial(_Handler, directory=str(root)))
        self.state: dict[str, Any] = {}
        self._thread = threading.Thread(target=self.serve_forever, name="webapp-server", daemon=True)
        self._thread.start()

    def url(self, path: str = "") -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/{path.lstrip('/')}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebAppServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class DemoTask:
    """An instruction on the demo app and the check of the app state that says it was done."""

    name: str
    instruction: str
    check: Callable[[dict[str, Any]], bool]
    path: str = "demo/"


DEMO_TASKS = {
    task.name: task
    for task in (
        DemoTask(
            "signin-notifications",
            "Sign in with username alice and password wonderland, then turn on email notifications in Settings.",
            lambda s: bool(s.get("signedIn")) and s.get("settings", {}).get("emailNotifications") is True,
        ),
        DemoTask(
            "search-contact",
            "Sign in as alice (password wonderland) and search the contacts for Grace Hopper.",
            lambda s: bool(s.get("signedIn")) and "grace" in s.get("search", "").lower(),
        ),
    )
}
DEFAULT_DEMO_TASK = "signin-notifications"
