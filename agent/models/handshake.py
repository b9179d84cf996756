"""The resolution handshake of `OpenAIModel`: does the server feed each image at the size the prompt states?

Cheapest source first, and at most one extra request per model instance when the sizes agree:

- **token ids** (vLLM): every request asks for ``return_token_ids``; the prompt's ids come back after the
  server's multimodal processing, each image's ``<|image_pad|>`` expanded to one per token the model gets.
  Counting them per image checks EVERY request, a size seen for the first time included, for no extra
  request. A server that refuses the field (HTTP 400) is asked once without it and remembered.
- **usage probe** (any server reporting ``usage.prompt_tokens``): on first contact, one extra request, the
  real prompt with its smallest image swapped for the largest size this client can send (``--max-pixels``),
  ``max_tokens`` 1. Same text, so the two prompt_tokens differ by exactly the two images' tokens when the
  server keeps both; a Qwen-style server keeps every size between them then (its resize depends only on the
  area of a 28-multiple image), so the verdict covers every later image down to the first request's
  smallest. `resolution.probe_is_decisive` rules out the one way to fake the difference (both images
  shrunk by the same amount); when no probe size is decisive, or the image already has the largest area,
  the extra request is the prompt without its images instead (the old text-only baseline).
- **no usage**: one warning, nothing checked.

A mismatch: the request again with the client's limits as ``mm_processor_kwargs`` (vLLM started with
``--trust-request-mm-kwargs``), checked too, and from then on every request carries them; refused or
ignored: `ResolutionMismatch` (exit 2) naming both sizes and the fixes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PIL import Image

from agent.errors import ConfigError
from agent.geometry import MAX_PIXELS, MIN_PIXELS, Size
from agent.imaging import data_uri
from agent.models.base import Generation
from agent.models.resolution import (
    MARKERS_PER_IMAGE,
    Markers,
    ResolutionMismatch,
    choose_probe,
    explain_probe,
    image_runs,
    measured_image_tokens,
    mismatch_message,
    tokens_for,
)
from agent.prompt import Prompt

if TYPE_CHECKING:
    from agent.models.openai import OpenAIModel

log = logging.getLogger("agent.models.openai")


def _area(size: Size) -> int:
    return size.width * size.height


class ResolutionCheck:
    """The handshake's state for one model instance; ``report`` is what `OpenAIModel.handshake` shows.

    ``report``: status (pending, match, per_request_limits, mismatch, no_usage), method (token_ids, probe,
    text_only), extra_requests (requests the server processed beyond the real ones), seconds (their time and
    the checks'), and once known the image_tokens/expected_tokens/sizes of the check that set the status;
    ``refused_requests`` for requests the server answered with HTTP 400 (``return_token_ids`` or per-request
    limits it does not take); ``probe`` and ``verified_areas`` for the probe's size and the areas it covers.
    """

    def __init__(self, model: OpenAIModel) -> None:
        self.model = model
        self.report: dict[str, Any] = {"status": "pending", "method": None, "extra_requests": 0, "seconds": 0.0}
        self.token_ids: bool | None = None  # does the server return prompt_token_ids? None: not asked yet
        self.markers: Markers | None = None  # (vision start, image pad, vision end) ids, once read
        self.limits = False  # send the client's limits with every request
        self.verified: tuple[int, int] | None = None  # usage path: image areas known to reach the model unchanged
        self.probed = False
        self._warned: set[str] = set()
        self._lock = threading.RLock()

    # -- entry ----------------------------------------------------------------------------------------------
    def generate(self, payload: dict[str, Any], prompt: Prompt, sizes: list[Size]) -> Generation:
        if self.report["status"] == "no_usage":
            return self.model._complete(payload, prompt)
        if self.token_ids is None:
            with self._lock:  # first contact, once: concurrent callers wait for the server's kind
                if self.token_ids is None:
                    return self._first_contact(payload, prompt, sizes)
        if self.token_ids:
            started = time.perf_counter()
            body = self._body(payload, sizes)
            data = self.model._post("/chat/completions", body | {"return_token_ids": True})
            return self._by_ids(data, started, payload, prompt, sizes, limited="mm_processor_kwargs" in body)
        return self._by_usage(payload, prompt, sizes)

    def _body(self, payload: dict[str, Any], sizes: list[Size]) -> dict[str, Any]:
        return self._with_limits(payload, sizes) if self.limits else payload

    def _with_limits(self, payload: dict[str, Any], sizes: list[Size]) -> dict[str, Any]:
        """``payload`` asking the server to resize with limits under which our images stay as they are."""
        areas = [_area(s) for s in sizes]
        low, high = self.model.client_limits or (min(areas), max(areas))
        return payload | {"mm_processor_kwargs": {"min_pixels": min(low, *areas), "max_pixels": max(high, *areas)}}

    def _first_contact(self, payload: dict[str, Any], prompt: Prompt, sizes: list[Size]) -> Generation:
        body = self._body(payload, sizes)
        started = time.perf_counter()
        try:
            data = self.model._post("/chat/completions", body | {"return_token_ids": True})
        except ConfigError as refused:  # a server that rejects unknown fields; anything else fails again below
            self._refused()
            self.report["seconds"] = round(self.report["seconds"] + time.perf_counter() - started, 4)
            started = time.perf_counter()
            try:
                data = self.model._post("/chat/completions", body)
            except ConfigError:
                raise refused from None
            log.info("the server at %s refused return_token_ids (%s); checking image sizes from usage instead",
                     self.model.base_url, refused)
            self.token_ids = False
            return self._by_usage(payload, prompt, sizes, data, started)
        self.token_ids = isinstance(data.get("prompt_token_ids"), list)
        if self.token_ids:
            return self._by_ids(data, started, payload, prompt, sizes, limited="mm_processor_kwargs" in body)
        return self._by_usage(payload, prompt, sizes, data, started)

    # -- token ids: every request checked, for free ----------------------------------------------------------
    def _by_ids(self, data: dict[str, Any], started: float, payload: dict[str, Any], prompt: Prompt,
                sizes: list[Size], *, limited: bool) -> Generation:
        """``limited``: the request carried the client's limits (so a mismatch means the server ignores them)."""
        checking = time.perf_counter()
        ids = data.get("prompt_token_ids") or []
        counted = (data.get("usage") or {}).get("prompt_tokens")
        if counted and len(ids) != counted:  # ids from before the images were expanded: no count in them
            log.info("the server at %s returns %d prompt token ids for %d prompt tokens; checking image sizes from usage",
                     self.model.base_url, len(ids), counted)
            self.token_ids = False
            return self._by_usage(payload, prompt, sizes, data, started)
        runs = image_runs(ids, len(sizes), self.markers)
        if runs is None:  # ids that do not show the images (one-token images among one-off text tokens)
            return self._by_usage(payload, prompt, sizes, data, started)
        self.markers, counts = runs
        expected = [tokens_for(s) for s in sizes]
        generation = self.model._generation(data, prompt, started, sum(counts))
        if counts == expected:
            if self.report["status"] == "pending":
                self._note("match", "token_ids", checking, sizes, counts)
            return generation
        with self._lock:
            return self._retry_by_ids(payload, prompt, sizes, counts, limited)

    def _retry_by_ids(self, payload: dict[str, Any], prompt: Prompt, sizes: list[Size], counts: list[int],
                      limited: bool) -> Generation:
        started = time.perf_counter()
        worst = self._worst(sizes, counts)
        if limited:  # the limits went with this request and still did not hold
            self._mismatch(sizes[worst], counts[worst], sizes, "It ignored per-request mm_processor_kwargs.")
        try:
            data = self.model._post("/chat/completions", self._with_limits(payload, sizes) | {"return_token_ids": True})
        except ConfigError as exc:  # vLLM without --trust-request-mm-kwargs: HTTP 400
            self._refused()
            self._mismatch(sizes[worst], counts[worst], sizes, f"It refused per-request limits: {exc}")
        self.report["extra_requests"] += 1
        runs = image_runs(data.get("prompt_token_ids") or [], len(sizes), self.markers)
        if runs is None or runs[1] != [tokens_for(s) for s in sizes]:
            self._mismatch(sizes[worst], counts[worst], sizes, "It ignored per-request mm_processor_kwargs.")
        self.limits = True
        self._note("per_request_limits", self.report["method"] or "token_ids", started, sizes, counts)
        return self.model._generation(data, prompt, started, sum(runs[1]))

    # -- usage: one probe per model instance -----------------------------------------------------------------
    def _by_usage(self, payload: dict[str, Any], prompt: Prompt, sizes: list[Size], data: dict[str, Any] | None = None,
                  started: float | None = None) -> Generation:
        if data is None and self._covered(sizes):
            return self.model._complete(self._body(payload, sizes), prompt, sizes)
        if data is None and self.probed:
            generation = self.model._complete(self._body(payload, sizes), prompt)
            self._warn_unchecked(sizes)
            return generation
        with self._lock:
            if data is None:
                if self._covered(sizes):
                    return self.model._complete(self._body(payload, sizes), prompt, sizes)
                started = time.perf_counter()
                data = self.model._post("/chat/completions", self._body(payload, sizes))
            generation = self.model._generation(data, prompt, started or time.perf_counter(), None)
            if not generation.prompt_tokens:
                self.report["status"] = "no_usage"
                log.warning("the server at %s reports no usage.prompt_tokens, so this client cannot check that the model "
                            "sees screenshots at the size the prompt states (%dx%d); make sure the server does not resize "
                            "them (vLLM: --mm-processor-kwargs '{\"max_pixels\": N}' with N >= the client's "
                            "--max-pixels)", self.model.base_url, sizes[-1].width, sizes[-1].height)
                return generation
            if self.probed:  # the one extra request is spent: say so once, do not spend another
                self._warn_unchecked(sizes)
                return generation
            try:
                return self._probe(payload, prompt, sizes, generation)
            finally:
                self.probed = True  # after its verdict, so callers outside the lock never see one without it

    def _covered(self, sizes: list[Size]) -> bool:
        return self.verified is not None and all(self.verified[0] <= _area(s) <= self.verified[1] for s in sizes)

    def _warn_unchecked(self, sizes: list[Size]) -> None:
        if "unchecked" not in self._warned:
            self._warned.add("unchecked")
            low, high = self.verified or (0, 0)
            log.warning("the server at %s returns no token ids, and its one handshake request checked images of %d to %d "
                        "pixels; this %s image is outside that range and not checked (later ones outside it neither)",
                        self.model.base_url, low, high, "x".join(map(str, (sizes[0].width, sizes[0].height))))

    def _probe(self, payload: dict[str, Any], prompt: Prompt, sizes: list[Size], generation: Generation) -> Generation:
        started = time.perf_counter()
        index = min(range(len(sizes)), key=lambda i: _area(sizes[i]))
        real = sizes[index]
        max_pixels = (self.model.client_limits or (MIN_PIXELS, MAX_PIXELS))[1]
        probe = choose_probe(real, max_pixels)
        low = min(_area(s) for s in sizes)
        body = {k: v for k, v in self._body(payload, sizes).items() if k != "structured_outputs"} | {"max_tokens": 1}
        probe_body = probe_tokens = None
        if probe is not None:
            probe_body = body | {"messages": _swap_image(body["messages"], index, _probe_uri(probe, self.model.image_format))}
            try:
                probe_tokens = self._post_tokens(probe_body)
            except ConfigError as exc:  # e.g. longer than the server's context: check this request's images alone
                self._refused()
                log.info("the server at %s refused the handshake's %dx%d probe (%s); checking against the text alone",
                         self.model.base_url, probe.width, probe.height, exc)
        if probe_tokens is None:  # the image is already as large as any, no probe size is decisive, or refused
            text_only = self._post_tokens(body | {"messages": _without_images(body["messages"])})
            measured = measured_image_tokens(generation.prompt_tokens or 0, text_only, len(sizes))
            expected = sum(tokens_for(s) for s in sizes)
            if measured == expected:
                self.verified = (low, max(_area(s) for s in sizes))
                self._note("match", "text_only", started, sizes, [measured])
                return replace(generation, image_tokens=measured)
            worst = max(range(len(sizes)), key=lambda i: _area(sizes[i]))
            self._note("mismatch", "text_only", started, sizes, [measured])
            seen = measured - (expected - tokens_for(sizes[worst]))  # what the largest made of it, the others kept
            return self._retry_by_usage(payload, prompt, sizes, generation, {expected - measured}, sizes[worst], seen)
        assert probe is not None and probe_body is not None
        difference = probe_tokens - (generation.prompt_tokens or 0)
        expected_difference = tokens_for(probe) - tokens_for(real)
        self.report |= {"probe": [probe.width, probe.height]}
        if difference == expected_difference:
            self.verified = (low, _area(probe))
            self._note("match", "probe", started, sizes, [tokens_for(s) for s in sizes])
            self.report["verified_areas"] = list(self.verified)
            return replace(generation, image_tokens=sum(tokens_for(s) for s in sizes))
        outcomes = explain_probe(real, probe, difference)
        self._note("mismatch", "probe", started, sizes, None)
        resized = {r != tokens_for(real) for r, _ in outcomes}
        if len(resized) != 1:  # no Qwen resize limits explain it, or some say this image was resized and some not
            self._mismatch(probe, None, sizes, "Its usage fits no single Qwen resize, so per-request limits were not "
                           "tried.", probe=True)
        seen_real, seen_probe = outcomes[0]  # the likeliest; the retry below accepts any of them
        self.report["image_tokens"] = seen_real + sum(tokens_for(s) for s in sizes) - tokens_for(real)
        if resized == {True}:  # this request's image was resized: its answer is in the wrong space
            return self._retry_by_usage(payload, prompt, sizes, generation, {tokens_for(real) - r for r, _ in outcomes},
                                        real, seen_real, reach=probe)
        # this image was fine, larger ones would not be: the probe again with limits shows whether they help
        return self._retry_by_usage(payload, prompt, sizes, generation, {tokens_for(probe) - p for _, p in outcomes},
                                    probe, seen_probe, probe=(probe_body, probe_tokens))

    def _retry_by_usage(self, payload: dict[str, Any], prompt: Prompt, sizes: list[Size], generation: Generation,
                        growth: set[int], sent: Size, seen: int, *, probe: tuple[dict[str, Any], int] | None = None,
                        reach: Size | None = None) -> Generation:
        """The real request (or ``probe``: its body and prompt_tokens) again with the client's limits: its
        prompt_tokens must grow by what the server's resize took away (one of ``growth``). Then every request carries
        them, and images up to ``reach`` (or ``sent``) count as checked."""
        started = time.perf_counter()
        body, before = probe or (payload, generation.prompt_tokens or 0)
        try:
            data = self.model._post("/chat/completions", self._with_limits(body, sizes))
        except ConfigError as exc:
            self._refused()
            self._mismatch(sent, seen, sizes, f"It refused per-request limits: {exc}", probe=probe is not None)
        self.report["extra_requests"] += 1
        again = int((data.get("usage") or {}).get("prompt_tokens") or 0)
        if again - before not in growth:
            self._mismatch(sent, seen, sizes, "It ignored per-request mm_processor_kwargs.", probe=probe is not None)
        self.limits = True
        self.verified = (min(_area(s) for s in sizes), max(_area(reach or sent), *(_area(s) for s in sizes)))
        self._note("per_request_limits", self.report["method"], started, sizes, None)
        if probe is not None:  # this request's own images were fine
            return replace(generation, image_tokens=sum(tokens_for(s) for s in sizes))
        return self.model._generation(data, prompt, started, sum(tokens_for(s) for s in sizes))

    def _post_tokens(self, body: dict[str, Any]) -> int:
        data = self.model._post("/chat/completions", body)
        self.report["extra_requests"] += 1
        return int((data.get("usage") or {}).get("prompt_tokens") or 0)

    # -- reporting -------------------------------------------------------------------------------------------
    def _refused(self) -> None:
        """A request the server answered with HTTP 400 (processed nothing): counted apart from extra_requests."""
        self.report["refused_requests"] = self.report.get("refused_requests", 0) + 1

    @staticmethod
    def _worst(sizes: list[Size], counts: list[int]) -> int:
        return max(range(len(sizes)), key=lambda i: abs(counts[i] - tokens_for(sizes[i])))

    def _mismatch(self, sent: Size, seen: int | None, sizes: list[Size], why: str, *, probe: bool = False) -> None:
        self.report["status"] = "mismatch"
        limit = None
        if self.model.client_limits:
            limit = self.model.client_limits[1] if seen is None or seen < tokens_for(sent) else self.model.client_limits[0]
        raise ResolutionMismatch(mismatch_message(self.model.base_url, sent, seen, client_limit=limit, per_request=why,
                                                  probe=probe))

    def _note(self, status: str, method: str | None, started: float, sizes: list[Size], counts: list[int] | None) -> None:
        report: dict[str, Any] = {"status": status, "method": method,
                                  "seconds": round(self.report["seconds"] + time.perf_counter() - started, 4)}
        if counts is not None:
            report |= {"image_tokens": sum(counts), "expected_tokens": sum(tokens_for(s) for s in sizes),
                       "sizes": [[s.width, s.height] for s in sizes]}
        elif "sizes" not in self.report:
            report |= {"expected_tokens": sum(tokens_for(s) for s in sizes), "sizes": [[s.width, s.height] for s in sizes]}
        self.report.update(report)


def _without_images(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m | {"content": [c for c in m["content"] if c.get("type") != "image_url"]}
            if isinstance(m["content"], list) else m for m in messages]


def _swap_image(messages: list[dict[str, Any]], index: int, uri: str) -> list[dict[str, Any]]:
    """``messages`` with their ``index``-th image (in order of appearance) replaced by ``uri``."""
    out, seen = [], 0
    for message in messages:
        if isinstance(message["content"], list):
            parts = []
            for part in message["content"]:
                if part.get("type") == "image_url":
                    if seen == index:
                        part = {"type": "image_url", "image_url": {"url": uri}}
                    seen += 1
                parts.append(part)
            message = message | {"content": parts}
        out.append(message)
    return out


def _probe_uri(size: Size, image_format: str) -> str:
    """A flat grey image of ``size``: its content does not change the token count, and it compresses to little."""
    return data_uri(Image.new("RGB", (size.width, size.height), (128, 128, 128)), image_format)


__all__ = ["MARKERS_PER_IMAGE", "ResolutionCheck"]
