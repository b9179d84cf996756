"""The pytest plugin, run as a user's project runs it: a subprocess pytest on a generated test file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = '''
import pytest
from environments.webapps import WebAppServer


@pytest.fixture(scope="module")
def app():
    with WebAppServer() as server:
        yield server


@pytest.fixture
def gui_app_url(app, request):
    variant = request.config.getoption("--variant", default=None) or ""
    return app.url("demo/" + (f"?variant={variant}" if variant else ""))


@pytest.mark.gui_session("signin", mask_selectors=["#toast"])
def test_signin_session(gui_session):
    assert gui_session.passed


def test_offline(gui_replay):
    gui_replay("signin", mode="offline")
'''

CONFTEST = '''
def pytest_addoption(parser):
    parser.addoption("--variant", default=None)
'''


def _project(tmp_path: Path, recorded: Path) -> Path:
    import shutil

    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(recorded, project / "signin")
    (project / "test_app.py").write_text(USER_TESTS)
    (project / "conftest.py").write_text(CONFTEST)
    return project


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "agent.pytest_plugin", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(project), str(project), *args],
                          capture_output=True, text=True, env=env, cwd=project, timeout=300)


def test_plugin_passes_fails_with_a_report_and_heals(tmp_path, recorded, browser, server):
    from tests.regression.test_cli import _moved_button_answer

    project = _project(tmp_path, recorded)
    ok = _pytest(project)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 passed" in ok.stdout

    broken = _pytest(project, "--variant", "moved", "--gui-no-heal")
    assert broken.returncode == 1
    out = broken.stdout
    assert "recorded session" in out and "step 5 (left_click) failed" in out
    assert "recorded screenshot:" in out and "live screenshot:" in out and "report:" in out and "report.json" in out
    assert "1 failed, 1 passed" in out

    from agent.models.testing import ScriptedServer

    with ScriptedServer([_moved_button_answer(browser, server)]) as model:
        healed = _pytest(project, "--variant", "moved", "--gui-base-url", model.base_url, "--gui-model", "qwen",
                         "--gui-update")
        assert healed.returncode == 0, healed.stdout
        assert len(model.requests) == 1
    assert list(project.glob("signin.bak-*")), "the old recording is kept as a backup"
    # the healed session is now the recording: the moved app passes without any model
    again = _pytest(project, "--variant", "moved", "--gui-no-heal")
    assert again.returncode == 0, again.stdout


def test_gui_session_without_an_app_url_says_what_to_do(tmp_path, recorded):
    project = _project(tmp_path, recorded)
    (project / "test_app.py").write_text(
        'import pytest\n\n@pytest.mark.gui_session("signin")\ndef test_x(gui_session):\n    pass\n')
    done = _pytest(project)
    assert done.returncode == 1 and "gui_app_url" in done.stdout


def test_the_entry_point_loads_the_plugin_offline(tmp_path):
    """pyproject's ``pytest11`` entry point, installed as a distribution's metadata, makes the fixtures
    available with no ``-p``; with ``-p agent.pytest_plugin`` too it is one plugin, not two."""
    import tomllib

    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    site = tmp_path / "site"
    info = site / "gui_agent_probe-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gui-agent-probe\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in entry.items()))
    project = tmp_path / "project"
    project.mkdir()
    session = ROOT / "tasks" / "sessions" / "demo-signin-notifications"
    (project / "test_offline.py").write_text(
        f"def test_shipped_session(gui_replay):\n    gui_replay({str(session)!r}, mode='offline')\n")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}
    for extra in ([], ["-p", "agent.pytest_plugin"]):
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, str(project)],
                              capture_output=True, text=True, env=env, cwd=project, timeout=300)
        assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
