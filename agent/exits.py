"""One rule from outcomes and error classes to exit codes, shared by every command.

====  ==========================================================================================
code  meaning
====  ==========================================================================================
0     done: `run` succeeded, a replay matched, `ground` found the element, an evaluation scored every
      unit (whatever the scores are: they are the result)
1     not done: the episode ended ``failure``, ``step_limit`` (or any other non-success outcome the
      model is to blame for), a replay differs, nothing was found
2     the user's to fix (`ConfigError`): bad options, missing weights, no server, no display/device
3     infrastructure (`InfrastructureError`): the environment or the model server failed; for an
      evaluation, at least one unit ended ``error`` (run it again, with ``--retry-errors``, to redo those)
130   interrupted (Ctrl-C); what was recorded is kept
====  ==========================================================================================

`agent.cli.main` applies `for_exception` to whatever a command raises, so a new command cannot forget it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from agent.errors import ConfigError, GuiAgentError, InfrastructureError


class Exit(IntEnum):
    OK = 0
    NOT_DONE = 1
    USAGE = 2
    INFRASTRUCTURE = 3
    INTERRUPTED = 130


def for_outcome(outcome: str) -> Exit:
    """An episode's exit code: success 0, error 3, every other outcome (failure, step_limit, ...) 1."""
    if outcome == "success":
        return Exit.OK
    if outcome == "error":
        return Exit.INFRASTRUCTURE
    return Exit.NOT_DONE


def for_evaluation(outcomes: Iterable[str | None]) -> Exit:
    """An evaluation's exit code: 3 when any unit ended ``error`` (infrastructure), else 0."""
    return Exit.INFRASTRUCTURE if any(o == "error" for o in outcomes) else Exit.OK


def for_exception(exc: BaseException) -> Exit:
    """The exit code of a command that stopped with ``exc``."""
    if isinstance(exc, KeyboardInterrupt):
        return Exit.INTERRUPTED
    if isinstance(exc, ConfigError):
        return Exit.USAGE
    if isinstance(exc, InfrastructureError):
        return Exit.INFRASTRUCTURE
    if isinstance(exc, GuiAgentError):
        return Exit.NOT_DONE
    raise TypeError(f"{type(exc).__name__} is not an error this package raises on purpose") from exc
