"""A loopback OpenAI-compatible server for tests: answers chat completions with scripted text.

Shipped for users' tests too (like openai-agents' scripted model): run your pipeline against the real
HTTP path without a GPU. Every request is kept in ``requests`` for assertions.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = str | Callable[[dict[str, Any]], str]
# an answer may also be (text, finish_reason), e.g. ("<tool_call>{...", "length") for a cut-off answer


class ScriptedServer:
    """``answers``: texts served in order (the last repeats), or a function of the request body."""

    def __init__(self, answers: list[str] | Callable[[dict[str, Any]], str], *, models: tuple[str, ...] = ("qwen"),
                 latency: float = 0.0, fail_first: int = 0) -> None:
        self.answers, self.models, self.latency = answers, tuple(models) if not isinstance(models, str) else (models,), latency
        self.fail_first = fail_first  # answer HTTP 503 to this many requests first (to test retries)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            index = len(self.requests) - 1
        if index < self.fail_first:
            return 503, {"error": {"message": "warming up"}}
        if body.get("model") not in self.models:
            return 404, {"object": "error", "message": f"The model `{body.get('model')}` does not exist."}
        if callable(self.answers):
            text = self.answers(body)
        else:
            text = self.answers[min(index - self.fail_first, len(self.answers) - 1)]
        text, finish_reason = text if isinstance(text, tuple) else (text, "stop")
        if self.latency:
            time.sleep(self.latency)
        return 200, {
            "id": f"cmpl-{index}",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 0, "completion_tokens": len(text.split())},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timed out)
                    self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    self._send(400, {"error": "bad json"})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": "not found"})
                    return
                self._send(*server._answer(body))

        return Handler
