"""Secrets: placeholders typed as values, values scrubbed from results, observations and errors."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from agent.errors import ActionValidationError, ConfigError
from agent.geometry import Size
from agent.loop import Agent, AgentConfig
from agent.models import ReplayModel
from agent.trajectory import TrajectoryWriter
from environments.base import Command, Observation, StepResult
from environments.safety import Secrets, parse_secrets
from environments.safety.secrets import PLACEHOLDER
from tests.safety.screens import ScreensApp, call

VALUE = "p@ss word'&;1"


class EchoingDevice(ScreensApp):
    """Like a phone whose shell command line, URL and error messages repeat what was typed."""

    def __init__(self) -> None:
        super().__init__()
        self.typed: list[str] = []

    def observe(self) -> Observation:
        o = super().observe()
        return Observation(o.screenshot, o.input_size, info={"url": f"http://x/?q={'+'.join(self.typed)}"})

    def execute(self, command: Command) -> StepResult:
        if command.name == "type":
            if "again" in self.typed:
                raise ActionValidationError(f"the device refused to type {command.action.text!r}")
            self.typed.append(command.action.text)
            return StepResult(info={"shell": f"input text {shlex.quote(command.action.text).replace(' ', '%s')}"})
        return super().execute(command)


def test_value_is_typed_and_scrubbed_everywhere(tmp_path: Path) -> None:
    device = EchoingDevice()
    model = ReplayModel([call(action="type", text="<secret:PW>"), call(action="type", text="again"),
                         call(action="type", text="x <secret:PW> y"), call(action="type", text="<secret:NOPE>"),
                         call(action="terminate", status="success")])
    result = Agent(model, Secrets(device, {"PW": VALUE}), AgentConfig(max_retries=3),
                   TrajectoryWriter(tmp_path / "run")).run("log in with <secret:PW>")
    assert device.typed == [VALUE, "again"]  # the third type was refused, its message carried the value
    assert result.outcome == "success"
    files = b"".join(p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file())
    for form in (VALUE, shlex.quote(VALUE), VALUE.replace(" ", "%s"), json.dumps(VALUE)[1:-1]):
        assert form.encode() not in files
        assert all(form not in p.user for p in model.prompts)
    assert b"<secret:PW>" in files
    prompts = " ".join(p.user for p in model.prompts)
    assert 'the device refused to type "x <secret:PW> y"' in prompts  # the error, scrubbed, fed back
    assert "there is no secret named 'NOPE'" in prompts


def test_parse_secrets() -> None:
    assert parse_secrets(["A=1", "B"], {"B": "two"}) == {"A": "1", "B": "two"}
    assert parse_secrets(["A=x=y"], {}) == {"A": "x=y"}
    for bad, message in (["B"], "environment variable B is not set"), (["1A=x"], "letters, digits"), (["A="], "empty"):
        with pytest.raises(ConfigError, match=message):
            parse_secrets(bad, {})


def test_placeholder_syntax() -> None:
    assert PLACEHOLDER.findall("<secret:DB_PASS> and <secret:x1>") == ["DB_PASS", "x1"]
    assert Secrets(ScreensApp(), {"K": "v"}).reveal("a<secret:K>b") == "avb"
    assert Size(1, 1)  # the test module's helpers import fine
