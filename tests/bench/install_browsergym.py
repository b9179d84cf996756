"""Install BrowserGym's MiniWoB++ into its own venv for the peer benchmark: ``python3 tests/bench/install_browsergym.py .venv-browsergym``.

Its own venv because browsergym-core pins Playwright 1.44 (ours is newer). No browser is downloaded
(``playwright install`` is never run): tests/bench/browsergym_driver.py launches Debian's chromium, the
one the project uses. The MiniWoB++ pages are not installed here either: the driver points
``MINIWOB_URL`` at the project's own ``miniwob`` wheel, so both harnesses load the same files.
Standard library only: it runs before the venv exists.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BROWSERGYM = "browsergym-miniwob==0.14.3"  # pulls browsergym-core 0.14.3 and playwright 1.44.0


def main(venv: str) -> None:
    venv_dir = Path(venv).resolve()
    python = venv_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", BROWSERGYM], check=True)
    subprocess.run([str(python), "-c", "import browsergym.miniwob, browsergym.core.env, playwright.sync_api"],
                   check=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: install_browsergym.py VENV_DIR")
    main(sys.argv[1])
