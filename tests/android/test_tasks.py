"""Every task is solvable by a scripted policy through the full pipeline and fails for a do-nothing one."""

from __future__ import annotations

import json

import pytest

from agent.geometry import Size
from agent.loop import AgentConfig
from agent.trajectory import Trajectory
from environments.android.env import AndroidEnvironment
from environments.android_sim import Phone
from tasks.android.episode import run_task
from tasks.android.suite import REGISTRY
from tests.android.policy import DoNothing, ScriptedPolicy, plan_for

BIG = {"ContactPhoneToNote", "NotesCreate", "SystemDarkThemeOn"}  # these also run at 1080x2400


def test_suite_has_enough_tasks():
    assert len(REGISTRY) >= 12
    for cls in REGISTRY.values():
        task = cls.sample(3)
        assert task.goal and "{" not in task.goal and task.max_steps >= 10
        assert cls.sample(3).params == task.params  # same seed, same task


@pytest.mark.parametrize("task_id", list(REGISTRY))
def test_task_solvable_and_not_free(adb_server, tmp_path, task_id):
    size = Size(1080, 2400) if task_id in BIG else Size(720, 1280)
    adb_server.add("emulator-5554", Phone(size))
    config = AgentConfig(max_steps=0, max_retries=0)
    with AndroidEnvironment(port=adb_server.port, settle=0) as env:
        task = REGISTRY[task_id].sample(seed=1)
        solved = run_task(task, env, ScriptedPolicy(env.shell, plan_for(task)), config, tmp_path / "solved")
        assert solved["reward"] == 1.0, solved
        assert solved["outcome"] == "success" and solved["agent_outcome"] == "success"
        steps = Trajectory.load(tmp_path / "solved").steps
        assert steps and all(s["attempts"][-1].get("error") is None for s in steps)

        idle = run_task(task, env, DoNothing(), config, tmp_path / "idle")
        assert idle["reward"] == 0.0, idle
        assert idle["outcome"] == "failure" and idle["agent_outcome"] == "success"
        json.dumps(solved), json.dumps(idle)  # records must be plain JSON


def test_missing_app_is_a_config_error(adb_server):
    from agent.errors import ConfigError

    phone = adb_server.add("emulator-5554", Phone(Size(720, 1280)))
    del phone.apps["com.sim.notes"]  # like a real phone, which has no such app
    with AndroidEnvironment(port=adb_server.port, settle=0) as env:
        REGISTRY["SystemWifiTurnOn"].sample(0).check_device(env)  # settings tasks need nothing special
        with pytest.raises(ConfigError, match="NotesCreate needs the app.*com.sim.notes"):
            REGISTRY["NotesCreate"].sample(0).check_device(env)
