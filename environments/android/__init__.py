"""An Android phone, emulator or the simulated phone, driven over adb (``--env android``).

Options: ``--serial`` picks a device (default: the only one, or $ANDROID_SERIAL), ``--adb-host`` /
``--adb-port`` the adb server (default $ANDROID_ADB_SERVER_HOST/PORT or 127.0.0.1:5037). No adb server
is ever started for you: a missing one is a configuration error.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from agent.argtypes import non_negative_float

if TYPE_CHECKING:
    from environments.android.env import AndroidEnvironment


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--serial", default=None, help="device serial from `adb devices` (default: the only device)")
    group.add_argument("--adb-host", default=None, help="adb server host (default $ANDROID_ADB_SERVER_HOST or 127.0.0.1)")
    group.add_argument("--adb-port", type=int, default=None,
                       help="adb server port (default $ANDROID_ADB_SERVER_PORT or 5037)")
    group.add_argument("--adb-capture", choices=("auto", "raw", "png"), default="png",
                       help="screenshot transfer: PNG (default), raw RGBA (no decode, 4x the bytes) or auto (raw when the device offers it)")
    group.add_argument("--adb-settle", type=non_negative_float, default=0.3,
                       help="seconds to let the UI react after each action (default 0.3)")


def from_args(args: argparse.Namespace) -> AndroidEnvironment:
    from environments.android.env import AndroidEnvironment

    return AndroidEnvironment(args.serial, args.adb_host, args.adb_port, capture=args.adb_capture,
                              settle=args.adb_settle)


def __getattr__(name: str):
    if name == "AndroidEnvironment":
        from environments.android.env import AndroidEnvironment

        return AndroidEnvironment
    raise AttributeError(name)
