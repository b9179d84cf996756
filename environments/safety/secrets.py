"""`Secrets`: the model types ``<secret:NAME>``; the environment types the value; the value is never recorded.

The model only ever sees the placeholder (in the instruction, its own answers, the history). The value
is substituted in the one place it is needed, the command handed to the environment, and scrubbed
from everything that comes back: step results, observation info (a URL after a GET form), error
messages (which would otherwise reach the model as feedback and the console). What a screenshot shows
cannot be scrubbed: type secrets into password fields.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import replace
from typing import Any
from urllib.parse import quote, quote_plus

from agent.errors import ConfigError, EnvironmentFailure, GuiAgentError
from environments.base import Command, Environment, Observation, StepResult
from environments.wrappers import Wrapper

PLACEHOLDER = re.compile(r"<secret:([A-Za-z_][A-Za-z0-9_]*)>")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_secrets(specs: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """``NAME=VALUE`` or ``NAME`` (the value from the environment variable NAME) -> {name: value}."""
    environ = os.environ if environ is None else environ
    secrets: dict[str, str] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not _NAME.fullmatch(name):
            raise ConfigError(f"--secret {name!r}: a secret's name is letters, digits and _ (NAME=VALUE or NAME)")
        if not sep:
            if name not in environ:
                raise ConfigError(f"--secret {name}: the environment variable {name} is not set; export it or "
                                  f"give --secret {name}=VALUE")
            value = environ[name]
        if not value:
            raise ConfigError(f"--secret {name}: the value is empty")
        secrets[name] = value
    return secrets


class Secrets(Wrapper):
    """Types secret values for their placeholders and scrubs the values from whatever comes back."""

    def __init__(self, env: Environment, secrets: dict[str, str]) -> None:
        super().__init__(env)
        self.secrets = dict(secrets)
        forms = {}
        for name, value in self.secrets.items():
            for form in (value, json.dumps(value)[1:-1], shlex.quote(value), quote(value), quote_plus(value),
                         value.replace(" ", "%s"), re.sub(r"([\\'\" &;|<>()$`])", r"\\\1", value)):
                if len(form) >= 1:
                    forms[form] = f"<secret:{name}>"
        self._forms = sorted(forms.items(), key=lambda kv: -len(kv[0]))  # longest first: no partial leftovers

    def scrub(self, value: Any) -> Any:
        """``value`` (str, list, dict, nested) with every secret value replaced by its placeholder."""
        if isinstance(value, str):
            for form, placeholder in self._forms:
                value = value.replace(form, placeholder)
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.scrub(v) for v in value)
        return value

    def reveal(self, text: str) -> str:
        def value(match: re.Match) -> str:
            if match.group(1) not in self.secrets:
                from agent.errors import ActionValidationError

                raise ActionValidationError(f"there is no secret named {match.group(1)!r}; the secrets are "
                                            f"{', '.join(f'<secret:{n}>' for n in self.secrets)}")
            return self.secrets[match.group(1)]

        return PLACEHOLDER.sub(value, text)

    def reset(self) -> Observation:
        return self._clean(self._guard(self.env.reset))

    def observe(self) -> Observation:
        return self._clean(self._guard(self.env.observe))

    def execute(self, command: Command) -> StepResult:
        text = getattr(command.action, "text", None)
        if command.name == "type" and isinstance(text, str) and PLACEHOLDER.search(text):
            command = replace(command, action=command.action.model_copy(update={"text": self.reveal(text)}))
        result = self._guard(lambda: self.env.execute(command))
        return replace(result, reason=self.scrub(result.reason), info=self.scrub(result.info),
                       notes=self.scrub(result.notes))

    def _clean(self, observation: Observation) -> Observation:
        return replace(observation, info=self.scrub(observation.info)) if observation.info else observation

    def _guard(self, call):
        try:
            return call()
        except Exception as exc:
            text = str(exc)
            if self.scrub(text) == text:
                raise
            if isinstance(exc, GuiAgentError):  # keep the type (the loop decides by it), lose the value
                raise type(exc)(self.scrub(text)) from None
            raise EnvironmentFailure(f"{type(exc).__name__}: {self.scrub(text)}") from None

    def describe(self) -> dict[str, Any]:
        return self.scrub(self.env.describe()) | {"secrets": sorted(self.secrets)}
