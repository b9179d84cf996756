"""Models shared by several evaluation workers: one in-process model taken in turns, or several servers.

`Endpoints` spreads requests over several OpenAI-compatible servers (vLLM replicas): each request goes to
the healthy endpoint with the fewest requests in flight; a request that fails there with a transport
error or a server error is retried on another endpoint, the failure is reported, and an endpoint that
fails ``max_failures`` times in a row is taken out (and tried again after ``cooldown`` seconds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.errors import ConfigError, ModelUnavailableError, StepTimeout
from agent.models.base import Generation, Model
from agent.prompt import Prompt


class OneAtATime:
    """An in-process model used by several workers: their requests take turns (one forward at a time);
    the environments still run side by side."""

    def __init__(self, model: Model) -> None:
        self.model, self.name = model, model.name
        self._lock = threading.Lock()

    def generate(self, prompt: Prompt) -> Generation:
        with self._lock:
            return self.model.generate(prompt)

    def describe(self) -> dict[str, Any]:
        return self.model.describe()

    def close(self) -> None:
        if hasattr(self.model, "close"):
            self.model.close()


@dataclass
class EndpointState:
    """What the pool knows about one endpoint."""

    url: str
    in_flight: int = 0
    requests: int = 0
    failures: int = 0  # in a row
    total_failures: int = 0
    out_until: float = 0.0  # monotonic time before which it is not used
    last_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "requests": self.requests, "failures": self.total_failures,
                "out": self.out_until > time.monotonic(), "last_error": self.last_error}


class Endpoints:
    """Several OpenAI-compatible servers serving the same model, used as one `Model`.

    ``make(url)`` builds the model for one endpoint (an `OpenAIModel`, with its own bounded retries).
    ``report(message)`` is told about every failure and every endpoint taken out.
    """

    def __init__(self, urls: Sequence[str], make: Callable[[str], Model], *, max_failures: int = 3,
                 cooldown: float = 60.0, report: Callable[[str], None] | None = None) -> None:
        if not urls:
            raise ConfigError("no --base-url given")
        if len(set(urls)) < len(urls):
            raise ConfigError("a --base-url is given twice")
        self.models = {url: make(url) for url in urls}
        self.state = {url: EndpointState(url) for url in urls}
        self.name = next(iter(self.models.values())).name
        self.image_format = getattr(next(iter(self.models.values())), "image_format", None)
        self.max_failures, self.cooldown = max_failures, cooldown
        self.report = report or (lambda message: None)
        self._lock = threading.Lock()

    def generate(self, prompt: Prompt) -> Generation:
        tried: list[str] = []
        errors: list[str] = []
        while (url := self._pick(tried)) is not None:
            tried.append(url)
            try:
                generation = self.models[url].generate(prompt)
            except (ModelUnavailableError, StepTimeout) as exc:
                if isinstance(exc, ModelUnavailableError) and "does not know the model" in str(exc):
                    self._release(url, ok=True)
                    raise  # the user's mistake, the same on every replica
                errors.append(f"{url}: {exc}")
                self._release(url, ok=False, error=str(exc))
                continue
            except BaseException:
                self._release(url, ok=True)
                raise
            self._release(url, ok=True)
            return Generation(generation.text, generation.seconds, generation.image_tokens, generation.prompt_tokens,
                              generation.completion_tokens, generation.info | {"endpoint": url})
        if not errors:
            raise ModelUnavailableError("every model endpoint is taken out after repeated failures: "
                                        + "; ".join(f"{s.url}: {s.last_error}" for s in self.state.values()))
        raise ModelUnavailableError("no model endpoint answered: " + "; ".join(errors))

    def _pick(self, tried: list[str]) -> str | None:
        """The healthy, untried endpoint with the fewest requests in flight (ties: fewest served)."""
        now = time.monotonic()
        with self._lock:
            healthy = [s for s in self.state.values() if s.url not in tried and s.out_until <= now]
            if not healthy:
                return None
            best = min(healthy, key=lambda s: (s.in_flight, s.requests))
            best.in_flight += 1
            best.requests += 1
            return best.url

    def _release(self, url: str, *, ok: bool, error: str = "") -> None:
        with self._lock:
            state = self.state[url]
            state.in_flight -= 1
            if ok:
                state.failures = 0
                return
            state.failures += 1
            state.total_failures += 1
            state.last_error = error[:300]
            taken_out = state.failures >= self.max_failures
            if taken_out:
                state.out_until = time.monotonic() + self.cooldown
                state.failures = 0
        message = f"model endpoint {url} failed ({error[:200]}); the request was retried elsewhere"
        if taken_out:
            message += f"; taken out for {self.cooldown:g} s after {self.max_failures} failures in a row"
        self.report(message)

    def describe(self) -> dict[str, Any]:
        first = next(iter(self.models.values())).describe()
        return first | {"base_url": list(self.models), "endpoints": [s.to_dict() for s in self.state.values()]}

    def close(self) -> None:
        for model in self.models.values():
            if hasattr(model, "close"):
                model.close()
