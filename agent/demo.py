"""``gui-agent demo``: the agent signs in to the bundled demo web app and changes a setting.

With the model's weights in the local Hugging Face cache (or ``--base-url`` pointing at a server) the
real model drives a real headless Chromium on the Acme Workspace app served on loopback. Without them
nothing is downloaded: the demo says how to get the weights or use a server, then replays the shipped
recorded session of the same task (tasks/sessions/demo-*) through the same pipeline, so the loop can
still be seen working. ``python -m agent.demo record DIR`` re-records that session.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from agent.errors import ConfigError
from agent.options import DEFAULT_MODEL, build_model, default_out, pixel_limits

SESSIONS = Path(__file__).resolve().parent.parent / "tasks" / "sessions"


def session_dir(task: str) -> Path:
    return SESSIONS / f"demo-{task}"


def cached_weights(model: str) -> str | None:
    """Why ``model`` cannot be loaded offline, or None when its weights are all on this machine."""
    path = Path(model).expanduser()
    if path.is_dir():
        return None if (path / "config.json").is_file() else f"{path} has no config.json"
    from huggingface_hub import try_to_load_from_cache

    def cached(name: str) -> str | None:
        found = try_to_load_from_cache(model, name)
        return found if isinstance(found, str) else None

    if cached("config.json") is None:
        return f"{model} is not in the local Hugging Face cache"
    index = cached("model.safetensors.index.json")
    shards = sorted(set(json.loads(Path(index).read_text())["weight_map"].values())) if index else ["model.safetensors"]
    missing = [s for s in shards if cached(s) is None]
    return f"{model} is only partly cached (missing {', '.join(missing)})" if missing else None


def run_demo(args: argparse.Namespace, console: Console) -> int:
    from environments.webapps import DEFAULT_DEMO_TASK, DEMO_TASKS

    task = DEMO_TASKS[DEFAULT_DEMO_TASK]
    out = Path(args.out) if args.out else default_out("demo", task.name)
    if not args.base_url:
        problem = cached_weights(args.model or DEFAULT_MODEL)
        if problem:
            return _replay_instead(task.name, problem, args, out, console)
    pixels = pixel_limits(args)  # read once, handed to the model and the loop
    model = build_model(args, pixels)
    console.print(f"[bold]Demo:[/] {task.instruction}\nmodel: {model.name}; on a CPU each step of the 3B model "
                  "takes a minute or two")
    from agent.loop import AgentConfig

    config = AgentConfig(max_steps=15, min_pixels=pixels.min_pixels, max_pixels=pixels.max_pixels)
    result, state = run_task(model, task.name, out, config)
    from agent.report import print_episode

    print_episode(out, result, console)
    ok = task.check(state)
    console.print(f"[bold {'green' if ok else 'red'}]the app says the task is {'done' if ok else 'not done'}[/]")
    from agent.exits import Exit, for_outcome

    return Exit.OK if ok else max(Exit.NOT_DONE, for_outcome(result.outcome))


def run_task(model: Any, task_name: str, out: Path, config: Any = None, **env_options: Any):
    """Run one demo task with ``model`` on a fresh browser; returns (EpisodeResult, the app's state)."""
    from agent.loop import Agent, AgentConfig
    from agent.trajectory import TrajectoryWriter
    from environments.browser import BrowserEnvironment
    from environments.make import make_env
    from environments.webapps import DEMO_TASKS, WebAppServer

    task = DEMO_TASKS[task_name]
    with WebAppServer() as server, BrowserEnvironment(**env_options) as env:
        env.goto(server.url(task.path))
        if callable(model):  # a factory that needs the live page (the scripted policy)
            model = model(env)
        writer = TrajectoryWriter(out, image_format="jpeg")
        config = config or AgentConfig(max_steps=15)
        result = Agent(model, make_env(env, max_steps=config.max_steps), config, writer).run(
            task.instruction, run_info={"demo_task": task.name})
        state = env.page.evaluate("window.__demoState || {}")
    return result, state


def _replay_instead(task: str, problem: str, args: argparse.Namespace, out: Path, console: Console) -> int:
    from agent.replay import replay_session

    name = args.model or DEFAULT_MODEL
    console.print(Panel(
        f"{problem}, and the demo does not download weights.\n\n"
        f"To run the real model: on a machine with Hugging Face access run\n"
        f"  [bold]hf download {name}[/]   (about 7.5 GB; or `huggingface-cli download {name}`)\n"
        f"then copy ~/.cache/huggingface to this machine (or pass --model /path/to/the/download), or\n"
        f"serve it elsewhere with vLLM and run\n"
        f"  [bold]gui-agent demo --base-url http://HOST:8000/v1 --model {name}[/]\n\n"
        f"Meanwhile, here is the same task replayed from a recorded session.",
        title="model weights not found", border_style="yellow",
    ))
    session = session_dir(task)
    if not session.is_dir():
        raise ConfigError(f"the recorded session {session} is missing from this installation")
    code = replay_session(session, out, console)
    with contextlib.suppress(ValueError):
        session = session.relative_to(Path.cwd())
    console.print(f"[dim]recorded session: {session} (its step times are the replay's); replay it yourself with "
                  f"`gui-agent replay {session}`[/]")
    return code


def record(out: Path, task: str, console: Console) -> int:
    """Record the shipped session: the scripted DOM policy solves ``task`` through the real pipeline."""
    from agent.geometry import Size
    from environments.webapps.policy import PLANS, ScriptedPolicy

    result, state = run_task(lambda env: ScriptedPolicy(env.page, PLANS[task], env.viewport), task, out,
                             None, viewport=Size(1280, 720))
    from agent.report import print_episode
    from environments.webapps import DEMO_TASKS

    print_episode(out, result, console)
    ok = DEMO_TASKS[task].check(state)
    console.print(f"app state check: {'passed' if ok else 'FAILED'}")
    from agent.exits import Exit, for_outcome

    return Exit.OK if ok and result.outcome == "success" else max(Exit.NOT_DONE, for_outcome(result.outcome))


if __name__ == "__main__":  # python -m agent.demo record tasks/sessions/demo-signin-notifications
    parser = argparse.ArgumentParser(description="record the demo session")
    parser.add_argument("command", choices=["record"])
    parser.add_argument("out")
    parser.add_argument("--task", default="signin-notifications")
    ns = parser.parse_args()
    sys.exit(record(Path(ns.out), ns.task, Console()))
