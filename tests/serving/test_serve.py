"""`gui-agent serve` as a user runs it, on CPU with the tiny model: the session's second (and last) vLLM.

The served limits are the client's defaults (max_pixels 1,003,520, one image per prompt), lower than the
checkpoint's, so this server also shows the handshake against a server that resizes: a client that sends
larger images stops with exit 2. The module ends by SIGKILLing vLLM's whole process group in the middle of
an episode and an evaluation (the server's last use): the episode ends `error` naming the server with its
trajectory intact, `serve` reports the death and exits 1, and the evaluation resumes against the session's
other server. The fixture's teardown then finds nothing left to stop.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from PIL import Image

from agent.cli import main
from agent.geometry import MAX_PIXELS, Geometry, Size
from tests.screenspot.conftest import render
from tests.serving.conftest import screen
from tests.serving.test_vllm_requests import check_geometry
from tests.vllm_server import READY_TIMEOUT, TINY_NAME, server_env, vllm_python

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    process: subprocess.Popen
    base_url: str = ""
    vllm_pid: int = 0
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


def _pump(stream, sink: list[str], lines: queue.Queue | None = None) -> None:
    for line in stream:
        sink.append(line)
        if lines is not None:
            lines.put(line)


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "HF_HUB_OFFLINE": "1", **extra}


@pytest.fixture(scope="module")
def served(tiny_vllm_model: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("serve")
    command = [sys.executable, "-m", "agent.cli", "serve", str(tiny_vllm_model), "--served-model-name", TINY_NAME,
               "--port", "0", "--enforce-eager", "--log", str(work / "vllm.log"), "--ready-timeout", str(READY_TIMEOUT),
               "--vllm-args", "--max-num-batched-tokens 8192 --max-model-len 16384"]
    env = cli_env(**server_env(work), GUI_AGENT_VLLM_PYTHON=str(vllm_python()))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    served = Served(process)
    out_lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, served.stdout, out_lines), daemon=True).start()
    threading.Thread(target=_pump, args=(process.stderr, served.stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT + 60
        run_line = ""  # printed after the base URL: wait for it too, or a test may read stdout before it arrives
        while not (served.base_url and run_line):
            try:
                line = out_lines.get(timeout=1)
            except queue.Empty:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gui-agent serve did not get ready: {''.join(served.stderr)[-3000:]}", pytrace=False)
                continue
            if line.startswith("base URL: "):
                served.base_url = line.split(": ", 1)[1].strip()
            elif "gui-agent run" in line:
                run_line = line
        served.vllm_pid = int(re.search(r"vLLM pid (\d+)", "".join(served.stderr)).group(1))
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                process.kill()
        for pid in _group_members(served.vllm_pid) if served.vllm_pid else []:
            os.kill(pid, signal.SIGKILL)  # only if serve failed to stop its own server


def test_serve_starts_vllm_with_the_client_flags(served: Served) -> None:
    out, err = "".join(served.stdout), "".join(served.stderr)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", served.base_url)
    assert f"--base-url {served.base_url} --model {TINY_NAME}" in out and out.count("gui-agent run") == 1
    command = err.split("starting vLLM", 1)[1]
    assert "vllm.entrypoints.openai.api_server" in command and "--served-model-name tiny" in command
    assert """--mm-processor-kwargs '{"min_pixels": 3136, "max_pixels": 1003520}'""" in command
    assert """--limit-mm-per-prompt '{"image": 1, "video": 0}'""" in command
    assert "--dtype bfloat16" in command and "--enable-prefix-caching" in command
    models = httpx.get(f"{served.base_url}/models", timeout=10, trust_env=False).json()
    assert [m["id"] for m in models["data"]] == [TINY_NAME]


@pytest.mark.parametrize("size, scale", [(Size(1280, 720), 1), (Size(1920, 1080), 1), (Size(1080, 2400), 1),
                                         (Size(1280, 720), 2)], ids=["1280x720", "1920x1080", "1080x2400", "hidpi2x"])
def test_image_tokens_with_the_servers_lower_limit(served: Served, size: Size, scale: int) -> None:
    """The served max_pixels is the client's default, so both resize alike and the server leaves our image be."""
    shot = screen(size.width * scale, size.height * scale)
    geometry = Geometry.for_screenshot(Size(*shot.size), size, max_pixels=MAX_PIXELS)

    class _Server:
        base_url = served.base_url

    with httpx.Client(base_url=served.base_url.removesuffix("/v1"), timeout=120, trust_env=False) as raw:
        check_geometry(_Server, raw, shot, geometry, MAX_PIXELS)


def test_a_client_with_larger_images_stops_with_exit_2(served: Served, tmp_path: Path, capsys) -> None:
    screen(1920, 1080).save(tmp_path / "shot.png")
    code = main(["ground", str(tmp_path / "shot.png"), "the sign-in button", "--base-url", served.base_url,
                 "--model", TINY_NAME, "--max-pixels", "12845056", "--out", str(tmp_path / "where.png")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert "the 1932x1092 screenshot this client sent" in err and "reached the model as 1316x728" in err
    assert "1222 image tokens instead of 2691" in err and "--max-pixels 958048" in err
    assert """--mm-processor-kwargs '{"max_pixels": 12845056}'""" in err and "--trust-request-mm-kwargs" in err


@pytest.mark.parametrize("size, code", [(Size(1280, 720), 0), (Size(1920, 1080), 2)], ids=["1280x720", "1920x1080"])
def test_original_files_against_the_servers_lower_limit(served: Served, tmp_path: Path, capsys, size: Size,
                                                         code: int) -> None:
    """`eval screenspot` sends original files (--resize auto) with the checkpoint's limit on the client. 1280x720
    lands on 1288x728 under either limit: the server's count agrees and the answers map from there. 1920x1080
    is 1932x1092 for the client but 1316x728 under the served limit: caught by the handshake, exit 2."""
    records = []
    render(tmp_path / "data" / "screenspot_imgs" / "web_0.png", size, [("button", (40, 60, 200, 120))])
    records.append({"img_filename": "web_0.png", "bbox": [40, 60, 160, 60], "instruction": "button",
                    "data_type": "text", "data_source": "fixture"})
    (tmp_path / "data" / "screenspot_web.json").write_text(json.dumps(records))
    result = main(["eval", "screenspot", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
                   "--base-url", served.base_url, "--model", TINY_NAME, "--max-pixels", "12845056"])
    err = " ".join(capsys.readouterr().err.split())
    assert result == code, err
    if code == 0:
        (record,) = _lines(tmp_path / "out" / "results.jsonl")
        assert record["model_size"] == [1288, 728] and record["image_size"] == [1280, 720]
        if record["model_point"]:
            assert record["point"] == pytest.approx([record["model_point"][0] * 1280 / 1288,
                                                     record["model_point"][1] * 720 / 728], abs=1e-3)
    else:
        assert "1932x1092" in err and "1316x728" in err, err
        assert "original file" in err and "1920x1080 -> 1932x1092" in err, err  # the file's own size is named too
        assert not _lines(tmp_path / "out" / "results.jsonl")  # nothing scored in the wrong space


def _ask(model, size: Size, seed: int = 0):
    from agent.imaging import to_model_image
    from agent.prompt import Prompt

    return model.generate(Prompt("You are a GUI agent.", f"click {seed}", (to_model_image(screen(1280, 720, seed), size),)))


def test_a_larger_image_long_after_first_contact_is_caught_for_no_extra_request(served: Served) -> None:
    """Every request's token ids are read: the server keeps 952x532 and shrinks 1932x1092, whenever it comes.
    This server does not trust per-request limits, so the one try with them is refused (HTTP 400)."""
    from agent.models.openai import OpenAIModel
    from agent.models.resolution import ResolutionMismatch

    model = OpenAIModel(served.base_url, TINY_NAME, max_tokens=1, client_limits=(3136, 12_845_056))
    for seed in range(2):
        assert _ask(model, Size(952, 532), seed).image_tokens == 34 * 19
    with pytest.raises(ResolutionMismatch) as exc:
        _ask(model, Size(1932, 1092), 2)
    message = " ".join(str(exc.value).split())
    assert "the 1932x1092 screenshot this client sent" in message and "reached the model as 1316x728" in message
    assert "1222 image tokens instead of 2691" in message and "It refused per-request limits" in message
    assert model.handshake["method"] == "token_ids" and model.handshake["status"] == "mismatch"
    assert model.handshake["extra_requests"] == 0 and model.handshake["refused_requests"] == 1


def test_the_usage_probe_catches_the_lower_limit_at_first_contact(served: Served) -> None:
    """Without token ids (as other servers): the first image fits the server, but the probe at the largest
    size this client can send (3584x3584 under 12,845,056) comes back shrunk to 980x980 by vLLM."""
    from agent.models.openai import OpenAIModel
    from agent.models.resolution import ResolutionMismatch

    model = OpenAIModel(served.base_url, TINY_NAME, max_tokens=1, client_limits=(3136, 12_845_056))
    model._check.token_ids = False  # as a server that returns none; the rest is the real exchange
    with pytest.raises(ResolutionMismatch) as exc:
        _ask(model, Size(952, 532))
    message = " ".join(str(exc.value).split())
    assert "a 3584x3584 image (the largest this client sends under its --max-pixels" in message
    assert "reached the model as 980x980 (1225 image tokens instead of 16384)" in message
    assert model.handshake["method"] == "probe" and model.handshake["extra_requests"] == 1
    assert model.handshake["refused_requests"] == 1  # the probe again with limits


def test_serve_without_vllm_says_how_to_get_it(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "agent.cli", "serve", str(tmp_path), "--vllm-python",
                           str(tmp_path / "nope" / "python")], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert done.returncode == 2 and "no Python interpreter at" in done.stderr and "--vllm-python" in done.stderr


def _v1_dataset(root: Path, count: int) -> int:
    """A ScreenSpot v1 layout with ``count`` different 1280x720 screens (no multimodal-cache hits), one target each."""
    records = []
    for i in range(count):
        box = (40 + 20 * i, 60 + 10 * i, 200 + 20 * i, 120 + 10 * i)
        render(root / "screenspot_imgs" / f"web_{i}.png", Size(1280, 720), [(f"button {i}", box)])
        records.append({"img_filename": f"web_{i}.png", "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                        "instruction": f"button {i}", "data_type": "text", "data_source": "fixture"})
    (root / "screenspot_web.json").write_text(json.dumps(records))
    return count


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_vllm_killed_mid_episode_and_mid_eval(served: Served, vllm_server, tmp_path: Path) -> None:
    """vLLM's whole process group SIGKILLed (an OOM kill, a crash): the episode ends `error` naming the server,
    its trajectory intact and readable, and the evaluation resumes exactly the unfinished samples against the
    session's other server (same served name, same client limits). Must stay the last use of `served`."""
    from agent.trajectory import Trajectory
    from environments.webapps import WebAppServer

    samples = _v1_dataset(tmp_path / "data", 30)
    run_out, eval_out = tmp_path / "run", tmp_path / "eval"
    model = ["--base-url", served.base_url, "--model", TINY_NAME, "--constrain-tool-calls", "click,type",
             "--timeout", "30"]
    eval_args = ["eval", "screenspot", "--data", str(tmp_path / "data"), "--out", str(eval_out), "--max-pixels",
                 str(MAX_PIXELS)]
    with WebAppServer() as app:
        run = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "Sign in", "--env", "browser", "--url",
                                app.url("demo/"), "--max-steps", "100", "--loop-stop", "0", "--out", str(run_out), *model],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
        # The evaluation starts once the episode is under way (clicks and typing only, no loop guard: the random
        # model's repeated clicks cannot end it before its 100 steps), and the kill comes as soon as the evaluation has results: both are mid-way whatever the
        # machine's speed (started together, the 30 samples once finished before the browser's second step).
        deadline = time.monotonic() + 600
        evaluation = None
        while evaluation is None or len(_lines(eval_out / "results.jsonl")) < 2:
            assert run.poll() is None, run.communicate()[1][-2000:]
            assert evaluation is None or evaluation.poll() is None, evaluation.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the episode and the evaluation did not get going"
            if evaluation is None and len(_lines(run_out / "steps.jsonl")) >= 2:
                evaluation = subprocess.Popen([sys.executable, "-m", "agent.cli", *eval_args, *model],
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
            time.sleep(0.2)
        assert _group_members(served.vllm_pid), "vLLM was not running"
        os.killpg(served.vllm_pid, signal.SIGKILL)  # no goodbye: in-flight requests see their connection drop
        assert served.process.wait(120) == 1  # serve notices that vLLM died and says so
        run_err = run.communicate(timeout=300)[1]
        eval_err = evaluation.communicate(timeout=300)[1]
    assert not _group_members(served.vllm_pid), "vLLM processes outlived the kill"
    serve_err = " ".join("".join(served.stderr).split())
    assert "vLLM exited on its own (code -9)" in serve_err and "vLLM stopped." in serve_err

    assert run.returncode != 0, run_err
    trajectory = Trajectory.load(run_out)
    assert trajectory.result["outcome"] == "error" and not trajectory.torn
    assert served.base_url in trajectory.result["reason"]  # unreachable, failing or silent: the server's fault, named
    assert len(trajectory.steps) >= 2
    for step in trajectory.steps:
        assert (run_out / step["screenshot"]).is_file()

    assert json.loads((run_out / "run.json").read_text())["model"]["base_url"] == served.base_url
    assert len(_lines(run_out / "steps.jsonl")) == len(trajectory.steps)  # every line whole

    done_before = _lines(eval_out / "results.jsonl")
    finished_before = {r["id"] for r in done_before if r.get("outcome") != "error"}
    failed = [r for r in done_before if r.get("outcome") == "error"]  # units the dead server failed, if any
    assert evaluation.returncode != 0 and 2 <= len(finished_before) < samples, eval_err
    assert all(r.get("fault") == "server" and served.base_url in r["reason"] for r in failed), failed
    assert served.base_url in eval_err  # the evaluation, too, names the server that went away
    resumed = main([*eval_args, "--base-url", vllm_server.base_url, "--model", TINY_NAME, "--constrain-tool-calls",
                    "click,type"])
    assert resumed == 0
    records = _lines(eval_out / "results.jsonl")
    assert records[: len(done_before)] == done_before  # nothing recorded was lost or rewritten
    rerun = [r["id"] for r in records[len(done_before):]]
    everything = {r["id"] for r in records}
    assert len(everything) == samples and all(r.get("outcome") != "error" for r in records[len(done_before):])
    assert sorted(rerun) == sorted(everything - finished_before)  # exactly the unfinished units, each once
    assert json.loads((eval_out / "summary.json").read_text())["scored"] == samples
    Image.open(run_out / trajectory.steps[0]["screenshot"]).verify()
