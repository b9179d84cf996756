"""``gui-agent replay DIR``: re-run a recorded session offline and say whether it still matches.

The recorded screenshots are served again (`ReplayEnvironment`), the recorded model answers are given
again (`ReplayModel`), and the whole pipeline runs: parse, validate, map, execute. Any divergence (a
parser or mapping change that moves a click, an action that no longer validates) is reported.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from agent.errors import ConfigError
from agent.exits import Exit
from agent.loop import Agent, AgentConfig
from agent.models.replay import ReplayModel
from agent.report import plural, print_episode
from agent.trajectory import Trajectory, TrajectoryWriter, agent_result
from environments.make import make_env
from environments.replay import ReplayEnvironment


def replay_session(source: Path, out: Path | None, console: Console) -> int:
    """Exit code: 0 when the replay reproduces the recorded steps and outcome, 1 when it does not.

    A run that ended on something a replay cannot reproduce (killed, a hung server, a crashed browser) is
    checked for what it did record: every executed action again, in order, and nothing else.
    """
    try:
        recorded = Trajectory.load(source)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"cannot replay {source}: {exc}") from None
    agent = agent_result(recorded.result)
    if not any(step.get("screenshot") for step in recorded.steps):
        ended = f"it ended with {agent['outcome']}: {agent.get('reason')}" if agent else "it never finished"
        raise ConfigError(f"{source} has no recorded step to replay: the run stopped before its first step was "
                          f"recorded ({ended}). Nothing to check; rerun the task to record one.")
    reproducible = agent is not None and (agent.get("outcome") != "error" or _model_gave_up(recorded))
    if recorded.result is None:
        console.print(f"[yellow]{source} never finished (no result.json); checking the steps it recorded[/]")
    elif not reproducible:
        console.print(f"[yellow]{source} ended in an error a replay cannot reproduce ({escape(str(agent.get('reason')))}); "
                      "checking the steps it recorded[/]")
    options = recorded.run.get("options", {})
    config = AgentConfig(**{**options, "max_steps": max(1, len(recorded.steps))})
    out = out or Path(tempfile.mkdtemp(prefix="gui-agent-replay-"))
    writer = TrajectoryWriter(out)
    env = ReplayEnvironment(recorded)  # read below: what it executed and where it diverged
    result = Agent(ReplayModel.from_trajectory(recorded.path), make_env(env, max_steps=config.max_steps), config,
                   writer).run(
        recorded.run.get("instruction", ""), run_info={"replay_of": str(source)}
    )
    print_episode(out, result, console)
    _print_verdict(recorded.result, console)
    if reproducible:
        expected = agent["outcome"]
        same = result.outcome == expected and result.steps == len(recorded.steps)
    else:
        expected = "an unfinished run" if recorded.result is None else "error"
        same = env.diverged is None and env.executed == env.recorded_actions
    if same:
        what = (f"outcome {result.outcome}" if reproducible
                else f"all {plural(env.executed, 'recorded action')} reproduced")
        if recorded.result and "judged_by" in recorded.result:
            what = f"the agent's {what} as recorded (the evaluation's verdict: {recorded.result['outcome']})"
        console.print(f"[bold green]replay matches[/]: {plural(result.steps, 'step')}, {what}")
        return Exit.OK
    console.print(f"[bold red]replay differs[/]: recorded {expected} after {plural(len(recorded.steps), 'step')}, "
                  f"replayed {result.outcome} after {plural(result.steps, 'step')}: {result.reason}")
    return Exit.NOT_DONE


def _model_gave_up(recorded: Trajectory) -> bool:
    """The recorded run ended because every try of its last step was unusable: the replay gives the same texts."""
    last = recorded.steps[-1] if recorded.steps else {}
    attempts = last.get("attempts") or []
    return not last.get("action") and bool(attempts) and all(a.get("error") for a in attempts)


def _print_verdict(result: dict | None, console: Console) -> None:
    """When an evaluation judged the recording, say so: the replay checks the agent, not the verdict."""
    if result and "judged_by" in result:
        reward = f", reward {result['reward']}" if result.get("reward") is not None else ""
        console.print(f"[dim]the recording was judged by {result['judged_by']}: {result['outcome']}{reward} — "
                      f"{result.get('reason')}; the agent's own outcome was {result['agent'].get('outcome')}[/]")
