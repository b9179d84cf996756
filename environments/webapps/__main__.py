"""``python -m environments.webapps [--port N]``: serve the demo app (and the test pages) on loopback.

Prints the demo app's URL and the command to try next, and serves until Ctrl-C. ``demo/?variant=moved|renamed|gone``
is the same app after a layout change, for trying live replay's drift detection and healing.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from environments.webapps import DEFAULT_DEMO_TASK, DEMO_TASKS, WebAppServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m environments.webapps", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    try:
        server = WebAppServer(port=args.port)
    except OSError as exc:
        parser.exit(2, f"cannot serve on port {args.port}: {exc}; choose another --port\n")
    print(f"demo app: {server.url('demo/')}  (variants: {server.url('demo/?variant=moved')}, …renamed, …gone)",
          flush=True)
    task = DEMO_TASKS[DEFAULT_DEMO_TASK]
    print(f'try: gui-agent run "{task.instruction}" --env browser --url {server.url("demo/")} '
          "--base-url http://127.0.0.1:8002/v1 --model scripted", flush=True)
    print("     (no GPU? the scripted model server for that: python -m agent.models.testing --port 8002)  "
          "Ctrl-C stops.", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
