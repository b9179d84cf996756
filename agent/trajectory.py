"""One directory per run: ``run.json``, ``steps.jsonl``, ``screenshots/``, ``result.json``.

Written so that a crash at any moment loses at most the step in flight: each step line is flushed when
written, a screenshot is on disk before the line that names it, ``result.json`` is replaced atomically
last. The reader tolerates a torn last line. Plain JSON and images only; nothing is pickled.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from agent.errors import OutputExistsError
from agent.imaging import DEFAULT_FORMAT, encode, extension
from agent.jpeg import RowJpegEncoder

if TYPE_CHECKING:
    from environments.base import Damage

RUN, STEPS, RESULT, SCREENSHOTS = "run.json", "steps.jsonl", "result.json", "screenshots"


class Recorder(Protocol):
    def start(self, run: dict[str, Any]) -> None: ...

    def save_screenshot(
        self, index: int, image: Image.Image, source: str | None = None, *, frame: int | None = None,
        damage: Damage | None = None,
    ) -> str | None: ...

    def append_step(self, record: dict[str, Any]) -> None: ...

    def finish(self, result: dict[str, Any]) -> None: ...


class NullRecorder:
    """Records nothing (android_world's NullCheckpointer)."""

    def start(self, run: dict[str, Any]) -> None:
        pass

    def save_screenshot(self, index: int, image: Image.Image, source: str | None = None, **_: Any) -> str | None:
        return None

    def append_step(self, record: dict[str, Any]) -> None:
        pass

    def finish(self, result: dict[str, Any]) -> None:
        pass


class TrajectoryWriter:
    """Writes one run into ``root``; refuses, at once, a directory that already holds a run.

    The directory is created when the run starts, so a run refused before its first step (bad options, no
    display) leaves nothing behind.
    """

    def __init__(self, root: str | Path, *, image_format: str = DEFAULT_FORMAT) -> None:
        self.root = Path(root)
        self.image_format = image_format
        if (self.root / STEPS).exists() or (self.root / RUN).exists():
            raise OutputExistsError(f"{self.root} already holds a recorded run; choose another --out directory")
        self._steps = None
        self._jpeg = RowJpegEncoder()

    def start(self, run: dict[str, Any]) -> None:
        (self.root / SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.root / RUN, run)
        self._steps = open(self.root / STEPS, "a", encoding="utf-8")  # noqa: SIM115 - held for the run

    def save_screenshot(
        self, index: int, image: Image.Image, source: str | None = None, *, frame: int | None = None,
        damage: Damage | None = None,
    ) -> str:
        """Encode ``image``; or, when ``source`` is a file already holding it (a replay), copy its bytes.

        JPEG re-encodes only the rows that ``damage`` says changed since an earlier screenshot (agent/jpeg.py).
        """
        (self.root / SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        if source and Path(source).suffix.lower() in (".png", ".jpg", ".jpeg"):
            name = f"{SCREENSHOTS}/{index:04d}{Path(source).suffix.lower()}"
            shutil.copyfile(source, self.root / name)
            return name
        name = f"{SCREENSHOTS}/{index:04d}.{extension(self.image_format)}"
        if extension(self.image_format) == "jpg":
            data = self._jpeg.encode(image, frame, damage)
        else:
            data = encode(image, self.image_format)
        (self.root / name).write_bytes(data)
        return name

    def append_step(self, record: dict[str, Any]) -> None:
        if self._steps is None:
            raise RuntimeError("start() must be called before append_step()")
        self._steps.write(json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n")
        self._steps.flush()

    def finish(self, result: dict[str, Any]) -> None:
        if self._steps is not None:
            self._steps.close()
            self._steps = None
        write_json_atomic(self.root / RESULT, result)


@dataclass
class Trajectory:
    """A recorded run as read back. ``result`` is None when the run never finished."""

    path: Path
    run: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    torn: bool = False

    @classmethod
    def load(cls, path: str | Path) -> Trajectory:
        path = Path(path)
        if not (path / RUN).is_file():
            raise FileNotFoundError(f"{path} is not a recorded run: it has no {RUN}")
        run = json.loads((path / RUN).read_text("utf-8"))
        steps, torn = read_jsonl(path / STEPS)
        result = json.loads((path / RESULT).read_text("utf-8")) if (path / RESULT).is_file() else None
        return cls(path, run, steps, result, torn)

    def screenshot(self, step: dict[str, Any]) -> Image.Image:
        with Image.open(self.path / step["screenshot"]) as image:
            image.load()
            return image


VERDICT_FIELDS = ("outcome", "success", "reward", "reason")


def record_verdict(root: str | Path, verdict: dict[str, Any], judge: str) -> None:
    """Put an evaluation's verdict on a recorded run, so its folder says what the evaluation said.

    ``result.json`` then carries the verdict (``outcome``, ``success``, ``reward``, ``reason``, and who
    judged) at the top, and what the agent itself ended with — for a ``terminate`` the model's own claim —
    under ``agent``. Called again, it replaces the verdict and keeps the agent's record.
    """
    path = Path(root) / RESULT
    if not path.is_file():
        return
    recorded = json.loads(path.read_text("utf-8"))
    agent = recorded.get("agent", recorded)
    top = {k: v for k, v in agent.items() if k not in VERDICT_FIELDS and k != "info"}
    write_json_atomic(path, top | {k: verdict.get(k) for k in VERDICT_FIELDS} | {"judged_by": judge, "agent": agent})


def agent_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the agent itself ended with (``result.json``'s ``agent`` when an evaluation judged the run)."""
    return None if result is None else result.get("agent", result)


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """Records of a JSONL file; a torn (unterminated, unreadable) last line is dropped and reported."""
    if not path.is_file():
        return [], False
    records, torn = [], False
    lines = path.read_text("utf-8").split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # the last line, written when the process died
                torn = True
            else:
                raise ValueError(f"{path}:{number} is not valid JSON; the file is corrupt") from None
    return records, torn


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file beside ``path`` and rename it over ``path``.

    The temp file is created with mode 0666 filtered by the umask, like every other file of a run
    (``tempfile.mkstemp`` would make it 0600, and the rename would keep that).
    """
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2, default=_jsonable)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot record {type(value).__name__} in a trajectory")
