"""Model backends: in-process transformers, OpenAI-compatible servers, and recorded replays."""

from __future__ import annotations

from agent.models.base import Generation, Model
from agent.models.replay import ReplayModel

__all__ = ["Generation", "Model", "ReplayModel"]
