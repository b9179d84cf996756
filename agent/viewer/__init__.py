"""HTML reports of runs and evaluations (``gui-agent view DIR``); self-contained, nothing from the network.

`write_report(dir)` picks the kind from what the directory holds: a run (``run.json``), an evaluation
(``results.jsonl``) or a ScreenSpot evaluation (results with ``correctness``). `render_step` draws one
step's screenshot with where it acted, for any other code that needs the picture.
"""

from __future__ import annotations

from pathlib import Path

from agent.errors import ConfigError
from agent.viewer.marks import Mark, render_step, step_marks
from agent.viewer.trajectory import REPORT, write_trajectory_report

__all__ = ["REPORT", "Mark", "render_step", "step_marks", "write_report", "write_trajectory_report"]


def write_report(directory: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``directory`` (``DIR/report.html``, or ``out`` for a run) and return its path."""
    from agent.trajectory import RUN
    from agent.viewer.evaluation import RESULTS, is_screenspot, latest, write_eval_report, write_screenspot_report

    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a directory; give a run's --out directory or an evaluation's")
    if (directory / RUN).is_file():
        return write_trajectory_report(directory, out)
    if out is not None:
        raise ConfigError("--out is for a run's report; an evaluation's reports are written inside its directory")
    if (directory / RESULTS).is_file():
        records = latest(directory)
        return write_screenspot_report(directory) if is_screenspot(records) else write_eval_report(directory)
    raise ConfigError(f"{directory} holds neither a run ({RUN}) nor an evaluation ({RESULTS}); "
                      "give the directory passed as --out to `gui-agent run` or `gui-agent eval`")


def announce(directory: str | Path, write: bool, console) -> Path | None:
    """End of `run`/`eval`: write the report (``--report``) and print its path, or print how to get it."""
    directory = Path(directory)
    if not write:
        console.print(f"report: run `gui-agent view {directory}` to write {directory / REPORT}")
        return None
    try:
        path = write_report(directory)
    except Exception as exc:  # noqa: BLE001 - the run's own result matters more than its report
        console.print(f"[yellow]could not write the report of {directory}: {exc}[/]")
        return None
    console.print(f"report: {path}")
    return path
