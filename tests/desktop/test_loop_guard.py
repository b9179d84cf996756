"""The loop guard on a real X server: DAMAGE says "nothing was drawn" without comparing pixels, and a
click that repaints a widget counts as a change."""

from __future__ import annotations

from agent.geometry import ScreenPoint
from environments.base import Command
from environments.safety import LoopGuard
from tools import get_tool


def command(**arguments) -> Command:
    action = get_tool("computer_use").validate(arguments)
    point = ScreenPoint(*arguments["coordinate"]) if "coordinate" in arguments else None
    return Command(action, point)


def test_guard_reads_damage_then_sees_a_repaint(desktop) -> None:
    env, app = desktop
    # The guard's verdict is the screen after the environment settled. Tk repaints a clicked widget within a
    # few ms on an idle machine but can take longer than the 30 ms default quiet window on a loaded one, so
    # the test gives the app a generous window: what is tested is the guard, not Tk's latency.
    env.settle_quiet = 0.3
    app.command("reset_targets")  # the session's Tk app: earlier tests may have clicked "left" already
    guard = LoopGuard(env)
    guard.reset()
    quiet = guard.execute(command(action="key", keys=["shift"]))  # a device action that draws nothing
    assert quiet.info["guard"]["changed"] is False and quiet.info["guard"]["by"] == "damage"
    assert quiet.notes == ("the screen did not change",)
    origin = guard.observe().origin
    since = app.mark()
    clicked = guard.execute(command(action="left_click", coordinate=[140 + origin[0], 120 + origin[1]]))
    app.wait_for(lambda e: e["type"] == "click", since=since, what="the click")
    assert clicked.info["guard"]["changed"] is True and clicked.info["guard"]["by"] == "damage+pixels"
    assert clicked.notes == ()
