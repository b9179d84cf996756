"""The live replay's report: one line per step (replayed / healed / failed), assertions, and the verdict.

Written as ``report.json`` next to the replay's trajectory and printed as a table. A healed step gets a
side-by-side picture (recorded screen with the old point, live screen with the new one) in ``heals/``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from rich.table import Table

Status = Literal["replayed", "healed", "failed"]
REPORT = "report.json"
_STYLE = {"replayed": "green", "healed": "yellow", "failed": "bold red"}


@dataclass
class StepReport:
    index: int
    action: str
    status: Status
    similarity: dict[str, float | None]
    reason: str = ""
    old_point: list[float] | None = None
    new_point: list[float] | None = None
    next_similarity: float | None = None
    model_calls: int = 0
    recorded_screenshot: str | None = None
    live_screenshot: str | None = None
    side_by_side: str | None = None
    seconds: float = 0.0


@dataclass
class AssertionReport:
    description: str
    passed: bool
    detail: str
    after_step: int | None = None


@dataclass
class ReplayReport:
    session: str
    out: str
    steps: list[StepReport] = field(default_factory=list)
    assertions: list[AssertionReport] = field(default_factory=list)
    passed: bool = False
    reason: str = ""
    model_calls: int = 0
    recorded_steps: int = 0
    html: str | None = None  # the viewer's page of the replay's trajectory
    updated: str | None = None  # where --update wrote the healed session
    backup: str | None = None

    @property
    def heals(self) -> int:
        return sum(s.status == "healed" for s in self.steps)

    @property
    def failed_step(self) -> StepReport | None:
        return next((s for s in self.steps if s.status == "failed"), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"heals": self.heals, "replayed": sum(s.status == "replayed" for s in self.steps)}

    def write(self) -> Path:
        from agent.trajectory import write_json_atomic

        path = Path(self.out) / REPORT
        write_json_atomic(path, self.to_dict())
        return path

    def summary(self) -> str:
        """A few plain lines: the verdict, the failing step and what differed, where to look."""
        counts = f"{sum(s.status == 'replayed' for s in self.steps)} replayed, {self.heals} healed, " \
                 f"{sum(s.status == 'failed' for s in self.steps)} failed of {self.recorded_steps} recorded steps; " \
                 f"{self.model_calls} model calls"
        lines = [f"live replay {'PASSED' if self.passed else 'FAILED'}: {self.reason}", counts]
        failed = self.failed_step
        if failed:
            lines.append(f"step {failed.index} ({failed.action}) failed: {failed.reason}")
            lines.append(f"  similarity to the recording: {failed.similarity}")
            lines.append(f"  recorded screenshot: {failed.recorded_screenshot}")
            lines.append(f"  live screenshot:     {failed.live_screenshot}")
            if failed.side_by_side:
                lines.append(f"  side by side:        {failed.side_by_side}")
        for a in self.assertions:
            if not a.passed:
                lines.append(f"assertion failed: {a.description}: {a.detail}")
        for s in self.steps:
            if s.status == "healed":
                lines.append(f"step {s.index} healed: {s.old_point} -> {s.new_point} ({s.side_by_side})")
        lines.append(f"report: {Path(self.out) / REPORT}" + (f" (steps: {self.html})" if self.html else ""))
        return "\n".join(lines)


def print_report(report: ReplayReport, console: Console) -> None:
    table = Table(title=f"live replay of {report.session}")
    for column in ("#", "action", "status", "screen", "target", "point", "model calls"):
        table.add_column(column, justify="left" if column in ("action", "status") else "right", no_wrap=True)
    for s in report.steps:
        moved = s.status == "healed" and s.old_point != s.new_point
        table.add_row(
            str(s.index), s.action, f"[{_STYLE[s.status]}]{s.status}[/]", _num(s.similarity.get("screen")),
            _num(s.similarity.get("target")),
            f"{_point(s.old_point)} → {_point(s.new_point)}" if moved else _point(s.old_point), str(s.model_calls),
        )
    console.print(table)
    for a in report.assertions:
        console.print(f"[{'green' if a.passed else 'bold red'}]{'✓' if a.passed else '✗'}[/] {a.description}: {a.detail}")
    console.print(("[bold green]" if report.passed else "[bold red]") + report.summary().replace("[", r"\[") + "[/]")


def side_by_side(recorded: Image.Image, recorded_step: dict[str, Any], live: Image.Image, live_step: dict[str, Any],
                 path: Path, live_title: str = "live screen, healed") -> str:
    """The recorded screen with where the recording acted, beside the live one with where the healed step
    acted, drawn by the viewer's `render_step` (the same marks as the HTML report); a PNG at ``path``."""
    from agent.geometry import Geometry
    from agent.viewer.marks import render_step, step_marks

    left = render_step(recorded, Geometry.from_dict(recorded_step["geometry"]), step_marks(recorded_step))
    right = render_step(live, Geometry.from_dict(live_step["geometry"]), step_marks(live_step))
    canvas = Image.new("RGB", (left.width + right.width + 12, max(left.height, right.height) + 28), (255, 255, 255))
    canvas.paste(left, (0, 28))
    canvas.paste(right, (left.width + 12, 28))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default(size=18)
    draw.text((8, 4), f"recorded step {recorded_step.get('index')}", fill=(0, 0, 0), font=font)
    draw.text((left.width + 20, 4), live_title, fill=(0, 0, 0), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return str(path)


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}"


def _point(p: list[float] | None) -> str:
    return "" if not p else f"({p[0]:.0f}, {p[1]:.0f})"
