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


class Batched:
    """An in-process model fed by several worker threads: their requests are gathered into batches of up
    to ``size`` prompts (waiting at most ``max_wait`` s for a batch to fill) and run by the model's
    ``generate_batch`` in one thread, one forward pass per token for the whole batch."""

    def __init__(self, model: Any, size: int, *, max_wait: float = 0.05) -> None:
        if size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {size}")
        self.model, self.size, self.max_wait, self.name = model, size, max_wait, model.name
        self._queue: list[tuple[Prompt, dict[str, Any]]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.batches: list[int] = []  # sizes of the batches run (for tests and benchmarks)

    def generate(self, prompt: Prompt) -> Generation:
        slot: dict[str, Any] = {"done": threading.Event()}
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="batcher", daemon=True)
                self._thread.start()
            self._queue.append((prompt, slot))
            self._cond.notify_all()
        slot["done"].wait()
        if "error" in slot:
            raise slot["error"]
        return slot["result"]

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue)
                deadline = time.monotonic() + self.max_wait
                while len(self._queue) < self.size and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
                batch, self._queue = self._queue[:self.size], self._queue[self.size:]
            self.batches.append(len(batch))
            try:
                results = self.model.generate_batch([prompt for prompt, _ in batch])
                for (_, slot), result in zip(batch, results, strict=True):
                    slot["result"] = result
            except BaseException as exc:  # noqa: BLE001 - handed to every caller of this batch
                for _, slot in batch:
                    slot["error"] = exc
            for _, slot in batch:
                slot["done"].set()

    def describe(self) -> dict[str, Any]:
        return self.model.describe() | {"batch_size": self.size}

    def close(self) -> None:
        if hasattr(self.model, "close"):
            self.model.close()
