"""``--update``: the healed replay becomes the recording, atomically, with the old one kept as a backup.

The replay's trajectory is copied into a temporary directory beside the session (with the session's
assertions), then two renames swap it in: the session to ``<name>.bak-<time>``, the copy to the
session's name. A crash before the first rename leaves the old session untouched; between the two, the
complete old session is at the backup path and the complete new one at the temporary path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from agent.regression.assertions import FILE as ASSERTIONS
from agent.regression.report import REPORT


def update_session(session: Path, replay_out: Path) -> Path:
    """Replace ``session`` by the replay in ``replay_out``; returns the backup's path."""
    session, replay_out = Path(session).resolve(), Path(replay_out).resolve()
    staging = Path(tempfile.mkdtemp(prefix=f".{session.name}.update-", dir=session.parent))
    try:
        for item in replay_out.iterdir():
            if item.name in (REPORT, "heals"):
                continue  # the report stays with the replay; the session is a recording
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, staging / item.name)
        if (session / ASSERTIONS).is_file():
            shutil.copy2(session / ASSERTIONS, staging / ASSERTIONS)
        _fsync_tree(staging)
        backup = session.with_name(f"{session.name}.bak-{datetime.now():%Y%m%d-%H%M%S-%f}")
        os.replace(session, backup)
        os.replace(staging, session)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return backup


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
