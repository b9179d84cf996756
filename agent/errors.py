"""Every failure the agent can meet, one class each, split by who is at fault.

::

    GuiAgentError
    ├── ModelOutputError            fault "model": fed back to the model and retried; when every try of a
    │   ├── ParseError                              step fails the episode ends "failure" (the model's)
    │   ├── ActionValidationError
    │   └── OutOfRangeError
    ├── StepBudgetExceeded          fault "model": the episode ends "step_limit"
    ├── InfrastructureError         the episode ends "error" (an eval records it; --retry-errors reruns it)
    │   ├── EnvironmentFailure      fault "environment": screen, browser, X server or device failed
    │   │   └── ReplayMismatch
    │   ├── ServerError             fault "server": the model server failed mid-run (5xx after retries)
    │   └── StepTimeout             a stage took longer than its bound (fault of whoever owns the stage)
    │       └── ModelTimeout        fault "server": the model server did not answer in time
    └── ConfigError                 fault "user": the command stops, exit 2, a message says what to do
        └── ModelUnavailableError

`agent.exits` turns outcomes and these classes into exit codes, in one place for every command.
"""

from __future__ import annotations

from typing import ClassVar, Literal

Fault = Literal["model", "environment", "user", "server"]


class GuiAgentError(Exception):
    """Base class for every error raised on purpose by this package; ``fault`` says who is to blame."""

    fault: ClassVar[Fault | None] = None


# -- the model's fault: retried with the message as feedback -------------------------------------
class ModelOutputError(GuiAgentError):
    """The model's answer cannot be used; ``str(self)`` is written for the model to act on."""

    fault = "model"


class ParseError(ModelOutputError):
    """The model's text holds no usable tool call / box / point."""


class CutOffAnswer(ParseError):
    """The answer stops inside a value (the token limit): reading it would invent a different action."""


class ActionValidationError(ModelOutputError):
    """A tool call was found but its arguments break the tool's schema."""


class OutOfRangeError(ModelOutputError):
    """A point lies outside the space it claims to be in (no silent clamping)."""


class StepBudgetExceeded(GuiAgentError):
    """The episode used its whole step budget without terminating (outcome ``step_limit``)."""

    fault = "model"


# -- infrastructure: the episode ends with outcome "error", its trajectory intact --------------------
class InfrastructureError(GuiAgentError):
    """Something the episode depends on failed; rerunning the episode may well succeed."""


class EnvironmentFailure(InfrastructureError):
    """The screen, browser, X server or device failed or went away."""

    fault = "environment"


class ReplayMismatch(EnvironmentFailure):
    """A replayed session diverged from its recording."""


class ServerError(InfrastructureError):
    """The model server answered before but now keeps failing (HTTP 5xx/429 after retries, dropped link)."""

    fault = "server"


class StepTimeout(InfrastructureError):
    """A stage (model call, settle wait, device command) took longer than its bound."""

    fault = "environment"


class ModelTimeout(ServerError, StepTimeout):
    """The model server did not answer within the timeout, every try."""

    fault = "server"


# -- the user's fault: clear message, exit code 2 -------------------------------------------------
class ConfigError(GuiAgentError):
    """Bad options, missing weights, unknown environment; the message says how to fix it."""

    fault = "user"


class OutputExistsError(ConfigError, FileExistsError):
    """The output directory already holds a recorded run; found before anything is started."""


class ModelUnavailableError(ConfigError):
    """The model server cannot be reached (never answered) or does not serve the named model."""


def fault_of(exc: BaseException) -> Fault | None:
    """Who is at fault for ``exc``: its class's ``fault``; an interrupt is the user's; anything else unknown."""
    if isinstance(exc, GuiAgentError):
        return exc.fault
    if isinstance(exc, KeyboardInterrupt):
        return "user"
    return None


def error_record(exc: BaseException) -> dict[str, str | None]:
    """The fields a result record keeps about the error that ended it: its class and who is at fault."""
    return {"error": type(exc).__name__, "fault": fault_of(exc)}


class ServerFailing(ServerError):
    """An evaluation stopped after several units in a row failed on the model server; it resumes."""
