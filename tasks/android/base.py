"""What an Android task is (AndroidWorld's TaskEval, reference §6), and device-state helpers.

A task has a goal template filled from random parameters, ``setup(env)`` that puts the device in a
known state over adb, ``is_successful(env) -> float`` that reads the state back (settings, stored
records, the agent's answer) and ``teardown(env)``. Its step budget is 10 × complexity. Tasks are
registered by id; ``apps`` names the packages a device needs for the task.
"""

from __future__ import annotations

import random
import re
import shlex
from typing import Any, ClassVar, Protocol

from agent.errors import ConfigError


class Device(Protocol):
    """What tasks need from the environment: a shell and the agent's last answer."""

    last_answer: str | None

    def shell(self, command: str, **kwargs: Any) -> Any: ...


REGISTRY: dict[str, type[AndroidTask]] = {}


def register(cls: type[AndroidTask]) -> type[AndroidTask]:
    if cls.id in REGISTRY:
        raise ValueError(f"task id {cls.id!r} registered twice")
    REGISTRY[cls.id] = cls
    return cls


class AndroidTask:
    id: ClassVar[str]
    template: ClassVar[str]
    complexity: ClassVar[float] = 1.0
    apps: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    @classmethod
    def sample(cls, seed: int) -> AndroidTask:
        """The task with parameters drawn from ``random.Random(f"{id}:{seed}")`` (same seed, same task)."""
        return cls(cls.generate_params(random.Random(f"{cls.id}:{seed}")))

    @classmethod
    def generate_params(cls, rng: random.Random) -> dict[str, Any]:
        return {}

    @property
    def goal(self) -> str:
        return self.template.format(**self.params)

    @property
    def max_steps(self) -> int:
        return max(1, round(10 * self.complexity))

    def check_device(self, env: Device) -> None:
        """`ConfigError` when the device lacks an app this task needs."""
        if not self.apps:
            return
        installed = {line.removeprefix("package:").strip() for line in env.shell("pm list packages").splitlines()}
        missing = [p for p in self.apps if p not in installed]
        if missing:
            raise ConfigError(f"task {self.id} needs the app(s) {', '.join(missing)}, which this device lacks; "
                              f"run it on the simulated phone (python -m environments.android_sim) or pick other tasks")

    def setup(self, env: Device) -> None:
        go_home(env)

    def is_successful(self, env: Device) -> float:
        raise NotImplementedError

    def teardown(self, env: Device) -> None:
        go_home(env)


# -- device state, read and written over adb ----------------------------------------------------------
def go_home(env: Device) -> None:
    env.shell("input keyevent KEYCODE_HOME")


def get_setting(env: Device, namespace: str, key: str) -> str:
    return env.shell(f"settings get {namespace} {shlex.quote(key)}").strip()


def put_setting(env: Device, namespace: str, key: str, value: str) -> None:
    env.shell(f"settings put {namespace} {shlex.quote(key)} {shlex.quote(value)}")


def content_insert(env: Device, uri: str, **values: str) -> None:
    binds = " ".join(f"--bind {shlex.quote(f'{k}:s:{v}')}" for k, v in values.items())
    out = env.shell(f"content insert --uri {shlex.quote(uri)} {binds}")
    if out.strip():
        raise RuntimeError(f"content insert into {uri} failed: {out.strip()}")


def content_query(env: Device, uri: str, columns: list[str]) -> list[dict[str, str]]:
    """Rows of ``content query`` as dicts; values may hold ", " (split only before known column names)."""
    out = env.shell(f"content query --uri {shlex.quote(uri)} --projection {':'.join(columns)}")
    if out.strip() == "No result found.":
        return []
    splitter = re.compile(r", (?=(?:{})=)".format("|".join(map(re.escape, columns))))
    rows = []
    for line in re.split(r"\n(?=Row: \d+ )", out.strip()):
        match = re.match(r"Row: \d+ (.*)", line, re.S)
        if not match:
            raise RuntimeError(f"unexpected content query output for {uri}: {out[:200]!r}")
        rows.append(dict(part.split("=", 1) for part in splitter.split(match.group(1))))
    return rows


def clear_app(env: Device, package: str) -> None:
    env.shell(f"pm clear {shlex.quote(package)}")


def norm(text: str | None) -> str:
    """Case- and space-insensitive comparison form; curly quotes and trailing dots do not matter."""
    text = (text or "").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().strip(".").strip().lower()


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")
