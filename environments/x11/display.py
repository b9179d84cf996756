"""Finding, starting and connecting to an X server, with every failure turned into a clear message.

``import pyautogui`` (through python-xlib) raises XauthError when ``~/.Xauthority`` is missing even for
servers that need no cookie (reference §7), and raises on import when ``DISPLAY`` is unset: both are
caught here, before pyautogui is imported, and become `ConfigError`s that say what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from agent.errors import ConfigError
from agent.geometry import Size

# One harmless entry (a host that is never matched) so python-xlib neither fails on a missing file nor
# prints "no xauthority details available" on stdout for an empty one; our Xvfb uses no cookie.
_DUMMY_XAUTH = b"".join(
    len(part).to_bytes(2, "big") + part
    for part in (b"qwen-gui-agent.invalid", b"65535", b"MIT-MAGIC-COOKIE-1", bytes(16))
)
_DUMMY_XAUTH = (256).to_bytes(2, "big") + _DUMMY_XAUTH  # family: FamilyLocal


class VirtualDisplay:
    """A private Xvfb on a free display number (``-displayfd``), stopped by `stop` or ``with``.

    ``xauthority`` is a file to use as XAUTHORITY for clients of this server (it needs no cookie).
    """

    def __init__(self, size: Size, depth: int = 24, *, start_timeout: float = 10.0) -> None:
        if shutil.which("Xvfb") is None:
            raise ConfigError(
                "--virtual-display needs Xvfb, which is not installed. Install it with "
                "`sudo apt-get install xvfb` (or run `make system-deps`), or attach to a running X server "
                "with --display :N."
            )
        self.size = size
        self._dir = tempfile.TemporaryDirectory(prefix="gui-agent-xvfb-")
        self.xauthority = Path(self._dir.name) / "Xauthority"
        self.xauthority.write_bytes(_DUMMY_XAUTH)
        read_fd, write_fd = os.pipe()
        log = open(Path(self._dir.name) / "Xvfb.log", "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        try:
            self.process = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{size.width}x{size.height}x{depth}",
                 "-nolisten", "tcp", "-noreset"],
                pass_fds=(write_fd,), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(write_fd)
        try:
            number = _read_display_number(read_fd, start_timeout)
        except Exception:
            self.stop()
            raise
        finally:
            os.close(read_fd)
        if number is None:
            message = (Path(self._dir.name) / "Xvfb.log").read_text(errors="replace").strip()[-600:]
            self.stop()
            raise ConfigError(f"Xvfb did not start for --virtual-display {size}. Its log says:\n{message}")
        self.name = f":{number}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        self._dir.cleanup()

    def environ(self) -> dict[str, str]:
        """What a child process needs to draw on this display."""
        return {"DISPLAY": self.name, "XAUTHORITY": str(self.xauthority)}

    def __enter__(self) -> VirtualDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_display_number(fd: int, timeout: float) -> int | None:
    """Xvfb writes its number and a newline to ``fd`` once it accepts connections; EOF means it died."""
    import selectors

    data = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not data.endswith(b"\n"):
            if not sel.select(timeout):
                raise ConfigError(f"Xvfb did not report a display within {timeout:.0f} s")
            chunk = os.read(fd, 64)
            if not chunk:
                return None
            data += chunk
    return int(data.strip())


def resolve_display(display: str | None) -> str:
    """The display to attach to: the option, else ``$DISPLAY``; a clear error when there is none."""
    name = display or os.environ.get("DISPLAY")
    if not name:
        raise ConfigError(
            "the desktop environment needs an X display, but DISPLAY is not set and no --display was given. "
            "On a machine without a screen use --virtual-display 1920x1080 (starts a private Xvfb for this "
            "run); to use a running X server pass --display :0 or export DISPLAY=:0."
        )
    return name


def xauthority_for_xlib() -> str | None:
    """The authority file python-xlib should read: the user's when it exists, else an empty one.

    xdotool and every other X client connect to a server that needs no cookie (an Xvfb started without
    ``-auth``) when ``~/.Xauthority`` does not exist; python-xlib refuses to connect without a file. Given
    an empty one it connects as they do. Returns the file it stood in for (for the error message), or None.
    """
    wanted = os.environ.get("XAUTHORITY") or str(Path.home() / ".Xauthority")
    if Path(wanted).exists():
        return None
    os.environ["XAUTHORITY"] = str(_empty_xauthority())
    return wanted


_EMPTY: list[Path] = []


def _empty_xauthority() -> Path:
    if not _EMPTY:
        holder = tempfile.TemporaryDirectory(prefix="gui-agent-xauth-")
        _EMPTY.append(Path(holder.name) / "Xauthority")
        _EMPTY[0].write_bytes(_DUMMY_XAUTH)
        _empty_xauthority.holder = holder  # type: ignore[attr-defined]  # removed at interpreter exit
    return _EMPTY[0]


def connect(display: str):
    """An Xlib connection to ``display``, or a `ConfigError` saying why there is none."""
    from Xlib import error as xerror
    from Xlib.display import Display

    missing = xauthority_for_xlib()
    try:
        return Display(display)
    except xerror.XauthError as exc:
        raise ConfigError(
            f"cannot read the X authority file for display {display} ({exc}); set XAUTHORITY to the server's "
            "cookie file, or to an empty file (`export XAUTHORITY=$(mktemp)`) if it needs none"
        ) from None
    except (xerror.DisplayError, OSError) as exc:
        cookie = (f" (there is no X authority file {missing}, so no cookie was offered: if the server needs one, "
                  "set XAUTHORITY to its cookie file)" if missing and _refused(exc) else "")
        raise ConfigError(
            f"cannot connect to X display {display}: {exc}{cookie}. Check that an X server runs there (`xdpyinfo "
            f"-display {display}`), that DISPLAY/--display name it (e.g. :0) and that you may connect "
            "(XAUTHORITY); or use --virtual-display 1920x1080 to start a private Xvfb."
        ) from None


def _refused(exc: Exception) -> bool:
    """The server answered but would not let us in (as opposed to: nothing listens there)."""
    text = str(exc).lower()
    return "authoriz" in text or "refused by server" in text
