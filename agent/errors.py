"""Every failure the agent can meet, one class each, split by who is at fault.

Model errors are fed back to the model and retried; environment errors end the episode with status
``error`` (the trajectory stays readable and resumable); configuration errors stop the CLI with exit 2
and a message that says what to do.
"""

from __future__ import annotations


class GuiAgentError(Exception):
    """Base class for every error raised on purpose by this package."""


# -- the model's fault: retried with the message as feedback -------------------------------------
class ModelOutputError(GuiAgentError):
    """The model's answer cannot be used; ``str(self)`` is written for the model to act on."""


class ParseError(ModelOutputError):
    """The model's text holds no usable tool call / box / point."""


class CutOffAnswer(ParseError):
    """The answer stops inside a value (the token limit): reading it would invent a different action."""


class ActionValidationError(ModelOutputError):
    """A tool call was found but its arguments break the tool's schema."""


class OutOfRangeError(ModelOutputError):
    """A point lies outside the space it claims to be in (no silent clamping)."""


# -- the environment's fault: the episode ends with status "error" -------------------------------
class EnvironmentFailure(GuiAgentError):
    """The screen, browser, X server or device failed or went away."""


class ReplayMismatch(EnvironmentFailure):
    """A replayed session diverged from its recording."""


class StepTimeout(GuiAgentError):
    """A stage (model call, settle wait, device command) took longer than its bound."""


class StepBudgetExceeded(GuiAgentError):
    """The episode used its whole step budget without terminating."""


# -- the user's fault: clear message, exit code 2 -------------------------------------------------
class ConfigError(GuiAgentError):
    """Bad options, missing weights, unknown environment; the message says how to fix it."""


class OutputExistsError(ConfigError, FileExistsError):
    """The output directory already holds a recorded run; found before anything is started."""


class ModelUnavailableError(ConfigError):
    """The model server cannot be reached or does not serve the named model."""


class ServerFailing(ModelUnavailableError):
    """An evaluation stopped after several units in a row failed on the model server; it resumes."""
