"""``gui-agent replay DIR``: re-run a recorded session offline and say whether it still matches.

The recorded screenshots are served again (`ReplayEnvironment`), the recorded model answers are given
again (`ReplayModel`), and the whole pipeline runs: parse, validate, map, execute. Any divergence (a
parser or mapping change that moves a click, an action that no longer validates) is reported.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from agent.errors import ConfigError
from agent.loop import Agent, AgentConfig
from agent.models.replay import ReplayModel
from agent.report import plural, print_episode
from agent.trajectory import Trajectory, TrajectoryWriter
from environments.replay import ReplayEnvironment


def replay_session(source: Path, out: Path | None, console: Console) -> int:
    """Exit code: 0 when the replay reproduces the recorded steps and outcome, 1 when it does not."""
    try:
        recorded = Trajectory.load(source)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"cannot replay {source}: {exc}") from None
    if recorded.result is None:
        console.print(f"[yellow]{source} never finished (no result.json); replaying the steps it has[/]")
    options = recorded.run.get("options", {})
    config = AgentConfig(**{**options, "max_steps": max(1, len(recorded.steps))})
    out = out or Path(tempfile.mkdtemp(prefix="gui-agent-replay-"))
    env = ReplayEnvironment(recorded)
    result = Agent(ReplayModel.from_trajectory(recorded.path), env, config, TrajectoryWriter(out)).run(
        recorded.run.get("instruction", ""), run_info={"replay_of": str(source)}
    )
    print_episode(out, result, console)
    expected = (recorded.result or {}).get("outcome")
    same = result.outcome == expected and result.steps == len(recorded.steps) if expected else result.outcome != "error"
    if same:
        console.print(f"[bold green]replay matches[/]: {plural(result.steps, 'step')}, outcome {result.outcome}")
        return 0
    console.print(f"[bold red]replay differs[/]: recorded {expected} after {plural(len(recorded.steps), 'step')}, "
                  f"replayed {result.outcome} after {plural(result.steps, 'step')}: {result.reason}")
    return 1
