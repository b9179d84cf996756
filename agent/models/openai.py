"""`OpenAIModel`: any OpenAI-compatible chat endpoint (vLLM, SGLang, LM Studio, ...).

The screenshot is already at model size when it gets here (resized once on the client, a multiple of
28 within the server's limits), so the server's own resize is the identity and the resolution in the
prompt is the one the model sees (vLLM ignores per-request max_pixels for Qwen2.5-VL: vllm#15364).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from agent.errors import ConfigError, ModelUnavailableError, StepTimeout
from agent.imaging import DEFAULT_FORMAT, data_uri
from agent.models.base import Generation
from agent.prompt import Prompt


class _Retryable(Exception):
    """A transport error or a server-side hiccup (5xx, 429) worth another try."""


class OpenAIModel:
    """Chat completions over HTTP, greedy by default, with bounded retries on transport errors."""

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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.max_retries, self.retry_wait = max_retries, retry_wait
        self.max_tokens, self.temperature = max_tokens, temperature
        self.image_format = image_format
        self.extra_body = extra_body or {}
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.client = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers={"Authorization": f"Bearer {key}"}, trust_env=False
        )

    def generate(self, prompt: Prompt) -> Generation:
        payload: dict[str, Any] = {
            "model": self.name,
            "messages": prompt.messages([data_uri(image, self.image_format) for image in prompt.images]),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **self.extra_body,
        }
        if prompt.prefill:  # vLLM / SGLang: continue the final assistant message instead of opening a new one
            payload |= {"continue_final_message": True, "add_generation_prompt": False}
        started = time.perf_counter()
        data = self._post("/chat/completions", payload)
        try:
            text = data["choices"][0]["message"]["content"] or ""
            finish_reason = data["choices"][0].get("finish_reason")
        except (KeyError, IndexError, TypeError):
            raise ModelUnavailableError(f"{self.base_url} answered without choices[0].message.content: {str(data)[:300]}") from None
        if prompt.prefill and text.startswith(prompt.prefill):  # some servers echo the prefill back
            text = text[len(prompt.prefill):]
        usage = data.get("usage") or {}
        return Generation(
            text,
            time.perf_counter() - started,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=finish_reason,
        )

    def served_models(self) -> list[str]:
        return [m.get("id", "?") for m in self._request("GET", "/models").get("data", [])]

    def describe(self) -> dict[str, Any]:
        return {"backend": "openai", "name": self.name, "base_url": self.base_url, "image_format": self.image_format}

    def close(self) -> None:
        self.client.close()

    # -- transport --------------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._request("POST", path, json=payload)
        except _NotFound as exc:
            names = []
            with contextlib.suppress(Exception):  # the listing is a courtesy for the message
                names = self.served_models()
            served = f"; it serves: {', '.join(names)}" if names else ""
            raise ModelUnavailableError(
                f"the server at {self.base_url} does not know the model {self.name!r}{served}. "
                f"Pass the served name with --model. ({exc})"
            ) from None

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential(multiplier=self.retry_wait, max=8 * self.retry_wait),
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(method, path, **kwargs)
        except _Retryable as exc:
            cause = exc.__cause__
            if isinstance(cause, httpx.TimeoutException):
                raise StepTimeout(
                    f"the model server at {self.base_url} did not answer within {self.client.timeout.read}s "
                    f"({self.max_retries + 1} tries); raise --timeout or check the server's load"
                ) from None
            if isinstance(cause, httpx.TransportError):
                raise ModelUnavailableError(
                    f"cannot reach the model server at {self.base_url} ({type(cause).__name__}: {cause}). "
                    "Start an OpenAI-compatible server there, e.g. `vllm serve Qwen/Qwen2.5-VL-7B-Instruct "
                    "--port 8000`, or fix --base-url (it usually ends in /v1)."
                ) from None
            raise ModelUnavailableError(f"the model server at {self.base_url} kept failing: {exc}") from None
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
            raise ConfigError(f"the model server at {self.base_url} rejected the request (HTTP {response.status_code}): {body}")
        try:
            return response.json()
        except ValueError:
            raise ModelUnavailableError(f"{self.base_url}{path} did not answer with JSON: {response.text[:200]!r}") from None


class _NotFound(Exception):
    pass
