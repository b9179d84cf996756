"""`OpenAIModel`: any OpenAI-compatible chat endpoint (vLLM, SGLang, LM Studio, ...).

Each prompt image reports the size it reaches the model at, a multiple of 28, and the prompt names that
size: resized once on the client, or an original file the server resizes itself (`agent.server_resize`,
whose ``size`` is the model size). A server that resizes again with its own limits (vLLM's
``--mm-processor-kwargs max_pixels``, or the checkpoint's) would make the model answer in another pixel
space, so the model checks what the server did (the handshake, `agent.models.handshake`): from the
prompt's token ids on vLLM, every request at no cost; from ``usage`` with one probe request elsewhere.
Same size, go on; different, send the client's limits per request where the server accepts them (vLLM
with ``--trust-request-mm-kwargs``; without it vLLM refuses per-request ``mm_processor_kwargs`` with HTTP
400), else stop with `ResolutionMismatch` (exit 2) naming both sizes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential

from agent.errors import ConfigError, ModelTimeout, ModelUnavailableError, ServerError
from agent.geometry import Size
from agent.imaging import DEFAULT_FORMAT, data_uri
from agent.models.base import Generation
from agent.models.handshake import ResolutionCheck
from agent.models.resolution import ResolutionMismatch, tokens_for
from agent.prompt import Prompt

log = logging.getLogger(__name__)
StructuredOutputs = dict[str, Any] | Callable[[Prompt], dict[str, Any] | None]


class _Retryable(Exception):
    """A transport error or a server-side hiccup (5xx, 429) worth another try."""


class OpenAIModel:
    """Chat completions over HTTP, greedy by default, with bounded retries on transport errors.

    ``structured_outputs``: vLLM's ``structured_outputs`` request field (e.g. ``{"regex": ...}``), or a
    function of the prompt that returns it (`agent.models.structured.tool_call_outputs` constrains answers
    to valid tool calls). ``client_limits``: the client's (min_pixels, max_pixels), sent per request when
    the handshake finds the server resizing otherwise. ``check_resolution=False`` skips the handshake.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        retry_wait: float = 1.0,
        max_tokens: int = 256,
        temperature: float = 0.0,
        image_format: str = DEFAULT_FORMAT,
        extra_body: dict[str, Any] | None = None,
        structured_outputs: StructuredOutputs | None = None,
        client_limits: tuple[int, int] | None = None,
        check_resolution: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.max_retries, self.retry_wait = max_retries, retry_wait
        self.timeout = timeout  # one request and its retries together: a hung server costs this, not tries × it
        self.max_tokens, self.temperature = max_tokens, temperature
        self.image_format = image_format
        self.extra_body = extra_body or {}
        self.structured_outputs = structured_outputs
        self.client_limits = client_limits
        self.check_resolution = check_resolution
        self._check = ResolutionCheck(self)  # the handshake: its state, and the report `handshake` shows
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.answered = False  # once the server has answered, its failures are its own, not a wrong --base-url
        self.client = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers={"Authorization": f"Bearer {key}"}, trust_env=False
        )

    @property
    def handshake(self) -> dict[str, Any]:
        """The handshake's report: status, method, extra_requests, seconds, and what it measured."""
        return self._check.report

    def generate(self, prompt: Prompt) -> Generation:
        payload = self._payload(prompt)
        sizes = [Size(*image.size) for image in prompt.images]  # the size each image reaches the model at
        if not sizes or not self.check_resolution:
            return self._complete(payload, prompt)
        try:
            return self._check.generate(payload, prompt, sizes)
        except ResolutionMismatch as exc:
            raise ResolutionMismatch(_name_files(str(exc), prompt)) from None

    def _payload(self, prompt: Prompt) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.name,
            "messages": prompt.messages([data_uri(image, self.image_format) for image in prompt.images]),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **self.extra_body,
        }
        structured = self.structured_outputs(prompt) if callable(self.structured_outputs) else self.structured_outputs
        if structured:
            payload["structured_outputs"] = structured
        if prompt.prefill:  # vLLM / SGLang: continue the final assistant message instead of opening a new one
            payload |= {"continue_final_message": True, "add_generation_prompt": False}
        return payload

    def _complete(self, payload: dict[str, Any], prompt: Prompt, sizes: list[Size] | None = None) -> Generation:
        """One chat completion. ``sizes``: images the handshake vouches for, so their token count is known."""
        started = time.perf_counter()
        data = self._post("/chat/completions", payload)
        return self._generation(data, prompt, started, sum(tokens_for(s) for s in sizes) if sizes else None)

    def _generation(self, data: dict[str, Any], prompt: Prompt, started: float, image_tokens: int | None) -> Generation:
        """The answer in a chat completion's ``data``; ``image_tokens`` as the handshake vouches for them."""
        try:
            text = data["choices"][0]["message"]["content"] or ""
            finish_reason = data["choices"][0].get("finish_reason")
        except (KeyError, IndexError, TypeError):
            raise ServerError(f"{self.base_url} answered without choices[0].message.content: {str(data)[:300]}") from None
        if prompt.prefill and text.startswith(prompt.prefill):  # some servers echo the prefill back
            text = text[len(prompt.prefill):]
        usage = data.get("usage") or {}
        return Generation(
            text,
            time.perf_counter() - started,
            image_tokens=image_tokens,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=finish_reason,
            info={"cached_tokens": (usage.get("prompt_tokens_details") or {}).get("cached_tokens")},
        )

    def served_models(self) -> list[str]:
        return [m.get("id", "?") for m in self._request("GET", "/models").get("data", [])]

    def describe(self) -> dict[str, Any]:
        return {"backend": "openai", "name": self.name, "base_url": self.base_url, "image_format": self.image_format,
                "handshake": dict(self.handshake)}

    def close(self) -> None:
        self.client.close()

    # -- transport --------------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._request("POST", path, json=payload)
        except _NotFound as exc:
            if '"detail"' in str(exc) and "Not Found" in str(exc):  # the path, not the model, is unknown (FastAPI)
                hint = (f"OpenAI-compatible servers serve under /v1: try --base-url {self.base_url}/v1"
                        if not self.base_url.endswith("/v1") else "check --base-url")
                raise ModelUnavailableError(
                    f"the server at {self.base_url} has no {path} endpoint (HTTP 404 Not Found); {hint}") from None
            names = []
            with contextlib.suppress(Exception):  # the listing is a courtesy for the message
                names = self.served_models()
            served = f"; it serves: {', '.join(names)}" if names else ""
            raise ModelUnavailableError(
                f"the server at {self.base_url} does not know the model {self.name!r}{served}. "
                f"Pass the served name with --model. ({exc})"
            ) from None

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One request, retried on transport errors and 5xx/429 within ``timeout`` seconds in all."""
        deadline = time.monotonic() + self.timeout
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1) | stop_after_delay(self.timeout),
            wait=wait_exponential(multiplier=self.retry_wait, max=8 * self.retry_wait),
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable) and time.monotonic() < deadline),
            reraise=True,
        )
        tries = 0
        try:
            for attempt in retrying:
                with attempt:
                    tries += 1
                    return self._once(method, path, timeout=max(0.05, deadline - time.monotonic()), **kwargs)
        except _Retryable as exc:
            cause = exc.__cause__
            if isinstance(cause, httpx.TimeoutException):
                raise ModelTimeout(
                    f"the model server at {self.base_url} did not answer within {self.timeout:g} s "
                    f"({tries} {'try' if tries == 1 else 'tries'}); raise --timeout or check the server's load"
                ) from None
            if isinstance(cause, httpx.TransportError) and self.answered:
                raise ServerError(f"the model server at {self.base_url} stopped answering "
                                  f"({type(cause).__name__}: {cause}; {self.max_retries + 1} tries)") from None
            if isinstance(cause, httpx.TransportError):
                raise ModelUnavailableError(
                    f"cannot reach the model server at {self.base_url} ({type(cause).__name__}: {cause}). "
                    "Start an OpenAI-compatible server there, e.g. `vllm serve Qwen/Qwen2.5-VL-7B-Instruct "
                    "--port 8000`, or fix --base-url (it usually ends in /v1)."
                ) from None
            error = ServerError if self.answered else ModelUnavailableError  # never worked: the user's to fix
            raise error(f"the model server at {self.base_url} kept failing ({self.max_retries + 1} tries): {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # connect errors and timeouts
            raise _Retryable(str(exc)) from exc
        if response.status_code in (429,) or response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}: {response.text[:300]}")
        if response.status_code == 404:
            raise _NotFound(f"HTTP 404: {response.text[:300]}")
        if response.status_code in (401, 403):
            raise ConfigError(f"the model server at {self.base_url} refused the API key (HTTP {response.status_code}); pass --api-key")
        if response.status_code >= 400:
            body = response.text[:500]
            if "does not exist" in body or "not found" in body.lower() and "model" in body.lower():
                raise _NotFound(f"HTTP {response.status_code}: {body}")
            if "may be provided in one prompt" in body:  # vLLM's --limit-mm-per-prompt
                raise ConfigError(
                    f"the model server at {self.base_url} takes fewer images per prompt than this client sent "
                    f"({_message(body)}). Lower --history-images to that number, or restart the server with a higher "
                    "--limit-mm-per-prompt, e.g. --limit-mm-per-prompt '{\"image\": 4}' (what "
                    "`gui-agent serve MODEL --history-images 4` passes)")
            raise ConfigError(f"the model server at {self.base_url} rejected the request (HTTP {response.status_code}): {body}")
        try:
            data = response.json()
        except ValueError:
            error = ServerError if self.answered else ModelUnavailableError
            raise error(f"{self.base_url}{path} did not answer with JSON: {response.text[:200]!r}") from None
        self.answered = True
        return data


class _NotFound(Exception):
    pass


def _message(body: str) -> str:
    """The error message inside an OpenAI-style error body, or the body itself."""
    import json

    with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
        return str(json.loads(body)["error"]["message"])
    return body


def _name_files(message: str, prompt: Prompt) -> str:
    """``message`` plus, for screenshot files sent as they are for the server to resize (`agent.server_resize`),
    which file sizes those were: the sizes the mismatch names are the model sizes the prompt states."""
    files = [image for image in prompt.images if getattr(image, "original", None) is not None]
    if not files:
        return message
    sent = ", ".join(f"{f.original.width}x{f.original.height} -> {f.width}x{f.height}" for f in files)
    return (f"{message} Note: the screenshot was sent as its original file for the server to resize to the size the "
            f"prompt names (--resize auto; file -> model size: {sent}); the server's own limits resized it differently.")

