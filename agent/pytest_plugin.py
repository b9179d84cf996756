"""pytest plugin (entry point ``pytest11``): recorded GUI sessions as tests of the app under test.

Keep sessions next to the tests and replay them with the ``gui_replay`` fixture, or mark a test::

    @pytest.fixture
    def gui_app_url(my_app):            # where the app under test is running (the plugin asks for it)
        return my_app.url("demo/")

    @pytest.mark.gui_session("sessions/signin", mask_selectors=["#toast"])
    def test_signin(gui_session):       # replayed before the test body; fails with a readable report
        assert gui_session.heals == 0

    def test_search(gui_replay, gui_app_url):
        gui_replay("sessions/search", url=gui_app_url, max_heals=1)

``--gui-replay live`` (default) re-executes against the app (healing drift with the model given by
``--gui-base-url/--gui-model``, or ``model=``); ``--gui-replay offline`` re-runs the recorded screens
through the pipeline without an app. A failure names the step, what differed, the screenshots and the
report. ``--gui-update`` writes healed sessions back (old ones kept as backups).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("gui-agent", "recorded GUI sessions (gui-agent)")
    g.addoption("--gui-replay", choices=("live", "offline"), default="live",
                help="replay recorded sessions against the live app (default) or on their recorded screens")
    g.addoption("--gui-base-url", default=None, help="OpenAI-compatible server of the model that heals drifted steps")
    g.addoption("--gui-model", default=None, help="model name on --gui-base-url")
    g.addoption("--gui-no-heal", action="store_true", help="fail on any drift instead of healing it")
    g.addoption("--gui-max-heals", type=int, default=None, help="fail a session that needs more heals")
    g.addoption("--gui-update", action="store_true", help="write healed sessions back (backups kept)")
    g.addoption("--gui-headed", action="store_true", help="show the browser")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gui_session(path, **options): replay the recorded session at path (relative to the test file) "
                   "against the app at the gui_app_url fixture before the test; the gui_session fixture is its report")


_FAILURE = pytest.StashKey["GuiReplayFailed"]()


class GuiReplayFailed(AssertionError):
    """A recorded session did not reproduce; ``report`` is the live replay's report (None offline)."""

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


@pytest.fixture
def gui_replay(request: pytest.FixtureRequest, tmp_path: Path):
    """``gui_replay(session, url=None, *, env=None, model=None, mode=None, heal=None, max_heals=None,
    masks=(), mask_selectors=(), threshold=None)`` -> the `ReplayReport` (live) or the episode (offline);
    fails the test with a readable report when the session does not reproduce."""
    config = request.config
    base = Path(request.path).parent
    counter = iter(range(1, 1000))

    def replay(session: str | Path, url: str | None = None, **options: Any) -> Any:
        __tracebackhide__ = True  # the failure is the report, not the plugin's frames
        path = Path(session) if Path(session).is_absolute() else base / session
        out = tmp_path / f"gui-replay-{next(counter)}-{path.name}"
        mode = options.pop("mode", None) or config.getoption("--gui-replay")
        if mode == "offline":
            return _offline(path, out)
        return _live(path, out, url, config, **options)

    return replay


@pytest.fixture
def gui_session(request: pytest.FixtureRequest, gui_replay):
    """The report of the session named by the test's ``gui_session`` marker (replayed before the test)."""
    __tracebackhide__ = True
    marker = request.node.get_closest_marker("gui_session")
    if marker is None or not marker.args:
        pytest.fail("the gui_session fixture needs @pytest.mark.gui_session(PATH, ...) on the test", pytrace=False)
    options = dict(marker.kwargs)
    if "url" not in options and options.get("mode", request.config.getoption("--gui-replay")) == "live":
        try:
            options["url"] = request.getfixturevalue("gui_app_url")
        except pytest.FixtureLookupError:
            pytest.fail("a live gui_session needs the app's URL: define a gui_app_url fixture or pass url= "
                        "to the marker", pytrace=False)
    try:
        return gui_replay(marker.args[0], **options)
    except GuiReplayFailed as failure:  # reported as the test's failure (not a setup error) before its body runs
        request.node.stash[_FAILURE] = failure
        return failure.report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    failure = item.stash.get(_FAILURE, None)
    if failure is not None:
        pytest.fail(str(failure), pytrace=False)


def _live(path: Path, out: Path, url: str | None, config: pytest.Config, *, env: Any = None, model: Any = None,
          heal: bool | None = None, max_heals: int | None = None, masks: Any = (), mask_selectors: Any = (),
          threshold: float | None = None, target_threshold: float | None = None, update: bool | None = None) -> Any:
    __tracebackhide__ = True
    from agent.regression.live import LiveOptions, LiveReplay
    from agent.regression.session import update_session
    from agent.trajectory import Trajectory

    recorded = Trajectory.load(path)
    options = LiveOptions(
        heal=(not config.getoption("--gui-no-heal")) if heal is None else heal,
        max_heals=config.getoption("--gui-max-heals") if max_heals is None else max_heals,
        masks=[tuple(m) for m in masks], mask_selectors=list(mask_selectors),
    )
    if threshold is not None:
        options.threshold = threshold
    if target_threshold is not None:
        options.target_threshold = target_threshold

    def factory() -> Any:
        from agent.errors import ConfigError

        base_url, name = config.getoption("--gui-base-url"), config.getoption("--gui-model")
        if not (base_url and name):
            raise ConfigError("the screen drifted and no model is configured to heal it: run pytest with "
                              "--gui-base-url URL --gui-model NAME, pass model= to gui_replay, or --gui-no-heal")
        from agent.models.openai import OpenAIModel

        return OpenAIModel(base_url, name)

    own_env = env is None
    if own_env:
        from argparse import Namespace

        from agent.regression.cli import live_environment

        env = live_environment(recorded, Namespace(url=url, viewport=None, device_scale_factor=None,
                                                   headed=config.getoption("--gui-headed")))
    try:
        report = LiveReplay(recorded, env, out, options, model=model, model_factory=factory).run()
    finally:
        if own_env:
            env.close()
    if not report.passed:
        raise GuiReplayFailed(f"recorded session {path} did not reproduce\n{report.summary()}", report)
    if report.heals and (config.getoption("--gui-update") if update is None else update):
        report.backup = str(update_session(path, out))
        report.updated = str(path)
        report.write()
    return report


def _offline(path: Path, out: Path) -> Any:
    __tracebackhide__ = True
    from agent.loop import Agent, AgentConfig
    from agent.models.replay import ReplayModel
    from agent.trajectory import Trajectory, TrajectoryWriter
    from environments.replay import ReplayEnvironment

    recorded = Trajectory.load(path)
    options = recorded.run.get("options", {})
    config = AgentConfig(**{**options, "max_steps": max(1, len(recorded.steps))})
    result = Agent(ReplayModel.from_trajectory(path), ReplayEnvironment(recorded), config, TrajectoryWriter(out)).run(
        recorded.run.get("instruction", ""), run_info={"replay_of": str(path)})
    expected = (recorded.result or {}).get("outcome")
    if result.outcome != expected or result.steps != len(recorded.steps):
        steps = [s for s in recorded.steps if s.get("screenshot")]
        at = steps[min(result.steps, len(steps)) - 1] if steps and result.steps else None
        shot = f"\n  recorded screenshot: {path / at['screenshot']}" if at else ""
        raise GuiReplayFailed(
            f"recorded session {path} did not reproduce offline: recorded {expected} after {len(recorded.steps)} "
            f"steps, replayed {result.outcome} after {result.steps}\n  step {result.steps}: {result.reason}{shot}\n"
            f"  replay trajectory: {out}")
    return result
