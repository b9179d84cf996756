"""``python -m environments.android_sim``: serve simulated phones on a loopback adb port."""

from __future__ import annotations

import argparse
import contextlib
import sys

from agent.geometry import Size
from environments.android_sim import AdbSimServer, Phone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m environments.android_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5137, help="adb server port to listen on (not 5037 if a real "
                                                               "adb server runs there)")
    parser.add_argument("--size", type=Size.parse, default=Size(1080, 2400), help="physical screen size, portrait")
    parser.add_argument("--logical-size", type=Size.parse, default=None,
                        help="a `wm size` override: touches in this space while screenshots stay physical")
    parser.add_argument("--serial", action="append", default=None, help="device serial (repeat for several phones)")
    parser.add_argument("--adb-keyboard", action="store_true", help="pretend the ADB Keyboard IME is installed")
    args = parser.parse_args(argv)
    server = AdbSimServer(args.host, args.port)
    for serial in args.serial or ["emulator-5554"]:
        phone = server.add(serial, Phone(args.size, adb_keyboard=args.adb_keyboard))
        phone.override = args.logical_size
    serials = ", ".join(server.devices)
    print(f"simulated device(s) {serials} ({args.size}) on adb server {server.host}:{server.port}; "
          f"try: ANDROID_ADB_SERVER_PORT={server.port} adb devices", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

