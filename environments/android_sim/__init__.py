"""A simulated Android phone behind a loopback adb server: a test device and a demo without a phone.

`AdbSimServer` speaks the real adb smart-socket protocol, so adbutils and the ``adb`` command-line
client both drive it; `Phone` holds the state (settings, a notes and a contacts app on sqlite, a
launcher) and renders it with Pillow. Start one with
``python -m environments.android_sim --port 5137 --size 1080x2400`` and point ``gui-agent`` at it with
``--adb-port 5137``. It is a test device for the environment's code paths, not an emulator.
"""

from __future__ import annotations

from environments.android_sim.phone import Phone
from environments.android_sim.server import AdbSimServer

__all__ = ["AdbSimServer", "Phone"]
