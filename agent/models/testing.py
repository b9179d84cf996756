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
                 latency: float = 0.0, fail_first: int = 0, fail_status: int = 503, fail_after: int | None = None,
                 port: int = 0) -> None:
        self.answers, self.models, self.latency = answers, tuple(models) if not isinstance(models, str) else (models,), latency
        self.fail_first, self.fail_status = fail_first, fail_status  # answer this many requests with this status first
        self.fail_after = fail_after  # answer HTTP 500 to every request after this many (a server dying mid-run)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
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
            return self.fail_status, {"error": {"message": "warming up" if self.fail_status == 503 else "server error"}}
        if self.fail_after is not None and index >= self.fail_after:
            return 500, {"error": {"message": "internal server error"}}
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


# -- python -m agent.models.testing -----------------------------------------------------------------
DEMO_SESSION = "demo-signin-notifications"


def main(argv: list[str] | None = None) -> int:
    """Serve scripted answers over HTTP until Ctrl-C; print the base URL to use next."""
    import argparse
    import sys
    from pathlib import Path

    from agent.trajectory import Trajectory

    parser = argparse.ArgumentParser(
        prog="python -m agent.models.testing",
        description="A loopback OpenAI-compatible server answering with scripted text (no GPU, no weights). "
                    "By default it gives the answers of the shipped demo session, in order: pointed at the demo "
                    "app (python -m environments.webapps) it signs in and turns on email notifications.")
    parser.add_argument("--port", type=int, default=8002, help="port on 127.0.0.1 (default 8002; 0 = any free one)")
    parser.add_argument("--model", default="scripted", help="the model name it serves (default scripted)")
    parser.add_argument("--answer", action="append", default=[],
                        help="an answer to give, in order, the last repeating; repeat the option for more")
    parser.add_argument("--from-session", default=None, metavar="DIR",
                        help="give a recorded run's answers in order (default: the shipped demo session)")
    args = parser.parse_args(argv)
    if args.answer:
        answers = list(args.answer)
    else:
        source = Path(args.from_session) if args.from_session else (
            Path(__file__).resolve().parents[2] / "tasks" / "sessions" / DEMO_SESSION)
        try:
            answers = [a["raw"] for step in Trajectory.load(source).steps for a in step.get("attempts", [])]
        except (OSError, ValueError) as exc:
            print(f"error: cannot read answers from {source}: {exc}", file=sys.stderr)
            return 2
        if not answers:
            print(f"error: {source} holds no model answers", file=sys.stderr)
            return 2
    try:
        server = ScriptedServer(answers, models=(args.model,), port=args.port)
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}; pick another --port", file=sys.stderr)
        return 2
    with server:
        print(f"Scripted model server: --base-url {server.base_url} --model {args.model}  "
              f"({len(answers)} answer{'' if len(answers) == 1 else 's'} in order, the last repeats)", flush=True)
        print("Ctrl-C stops.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
