"""A model as data: the command line's model options, shipped to Ray workers, which build the model there.

A built model holds sockets (an HTTP client) or gigabytes of weights; neither should be pickled. A
`LazyModel` carries only its `ModelRecipe` across processes and builds the model on first use, once
per process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from agent.models.base import Generation
from agent.prompt import Prompt

MODEL_OPTIONS = ("model", "base_url", "api_key", "timeout", "dtype", "device_map", "attn", "max_new_tokens",
                 "min_pixels", "max_pixels", "constrain_tool_calls")


@dataclass(frozen=True)
class ModelRecipe:
    """The model options of a command line (``--model``, ``--base-url``, ...)."""

    options: tuple[tuple[str, Any], ...]

    @classmethod
    def from_args(cls, args: Any) -> ModelRecipe:
        return cls(tuple((name, _frozen(getattr(args, name, None))) for name in MODEL_OPTIONS))

    def build(self):
        from agent.options import build_model

        return build_model(SimpleNamespace(**{k: list(v) if isinstance(v, tuple) else v for k, v in self.options}))


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class LazyModel:
    """A `Model` built from its recipe on first use; pickling it ships the recipe, never the model."""

    def __init__(self, recipe: ModelRecipe) -> None:
        self.recipe = recipe
        options = dict(recipe.options)
        self.name = options.get("model") or "Qwen/Qwen2.5-VL-3B-Instruct"
        self.image_format = "jpeg" if options.get("base_url") else None
        self._model = None
        self._lock = threading.Lock()

    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self.recipe.build()
            return self._model

    def generate(self, prompt: Prompt) -> Generation:
        return self.model().generate(prompt)

    def describe(self) -> dict[str, Any]:
        return self.model().describe()

    def close(self) -> None:
        if self._model is not None and hasattr(self._model, "close"):
            self._model.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"recipe": self.recipe}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["recipe"])
