"""qwen-gui-agent's front door: everything a script needs, from one import line.

    from qwen_gui_agent import Agent, AgentConfig, BrowserEnvironment, OpenAIModel, TrajectoryWriter

Names are imported when first used, so a browser-only user never imports torch, and a script that
uses a server model never imports Playwright, mss or adbutils unless it asks for them. The folders
`agent`, `environments`, `tools` and `tasks` stay importable as before; this package only re-exports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # the loop
    "Agent": "agent.loop", "AgentConfig": "agent.loop", "EpisodeResult": "agent.loop",
    # models
    "Model": "agent.models.base", "Generation": "agent.models.base",
    "OpenAIModel": "agent.models.openai", "TransformersModel": "agent.models.transformers",
    "ReplayModel": "agent.models.replay", "ScriptedServer": "agent.models.testing",
    # environments and the stack around them
    "make_env": "environments.make", "Wrapper": "environments.wrappers", "StepLimit": "environments.wrappers",
    "DryRun": "environments.dryrun",
    "Environment": "environments.base", "Observation": "environments.base", "Command": "environments.base",
    "StepResult": "environments.base",
    "BrowserEnvironment": "environments.browser", "DesktopEnvironment": "environments.desktop",
    "AndroidEnvironment": "environments.android.env", "CanvasEnvironment": "environments.canvas",
    "ReplayEnvironment": "environments.replay", "ReplayEvaluation": "environments.replay",
    "WebAppServer": "environments.webapps", "DEMO_TASKS": "environments.webapps",
    "check_environment": "environments.conformance", "assert_conformant": "environments.conformance",
    "assert_contract": "environments.conformance",
    # trajectories
    "Trajectory": "agent.trajectory", "TrajectoryWriter": "agent.trajectory",
    # geometry
    "Size": "agent.geometry", "ScreenPoint": "agent.geometry",
    # errors, by who is at fault
    "GuiAgentError": "agent.errors", "ModelOutputError": "agent.errors", "ParseError": "agent.errors",
    "ActionValidationError": "agent.errors", "OutOfRangeError": "agent.errors",
    "StepBudgetExceeded": "agent.errors", "InfrastructureError": "agent.errors",
    "EnvironmentFailure": "agent.errors", "ReplayMismatch": "agent.errors", "ServerError": "agent.errors",
    "StepTimeout": "agent.errors", "ModelTimeout": "agent.errors", "ConfigError": "agent.errors",
    "ModelUnavailableError": "agent.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qwen_gui_agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # for editors and type checkers; at run time the names above load lazily
    from agent.errors import (  # noqa: F401
        ActionValidationError,
        ConfigError,
        EnvironmentFailure,
        GuiAgentError,
        InfrastructureError,
        ModelOutputError,
        ModelTimeout,
        ModelUnavailableError,
        OutOfRangeError,
        ParseError,
        ReplayMismatch,
        ServerError,
        StepBudgetExceeded,
        StepTimeout,
    )
    from agent.geometry import ScreenPoint, Size  # noqa: F401
    from agent.loop import Agent, AgentConfig, EpisodeResult  # noqa: F401
    from agent.models.base import Generation, Model  # noqa: F401
    from agent.models.openai import OpenAIModel  # noqa: F401
    from agent.models.replay import ReplayModel  # noqa: F401
    from agent.models.testing import ScriptedServer  # noqa: F401
    from agent.models.transformers import TransformersModel  # noqa: F401
    from agent.trajectory import Trajectory, TrajectoryWriter  # noqa: F401
    from environments.android.env import AndroidEnvironment  # noqa: F401
    from environments.base import Command, Environment, Observation, StepResult  # noqa: F401
    from environments.browser import BrowserEnvironment  # noqa: F401
    from environments.canvas import CanvasEnvironment  # noqa: F401
    from environments.conformance import assert_conformant, assert_contract, check_environment  # noqa: F401
    from environments.desktop import DesktopEnvironment  # noqa: F401
    from environments.dryrun import DryRun  # noqa: F401
    from environments.make import make_env  # noqa: F401
    from environments.replay import ReplayEnvironment, ReplayEvaluation  # noqa: F401
    from environments.webapps import DEMO_TASKS, WebAppServer  # noqa: F401
    from environments.wrappers import StepLimit, Wrapper  # noqa: F401
