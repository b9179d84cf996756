"""Live replay of a demonstration on the demo app: unchanged, moved, renamed, and a real regression."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from agent.regression.live import LiveOptions, LiveReplay
from agent.trajectory import Trajectory
from tests.regression.conftest import DomGroundingModel
from tests.regression.demonstration import MASKS


def _replay(session: Path, env, out: Path, model=None, **options) -> tuple:
    model = model if model is not None else DomGroundingModel(env)
    report = LiveReplay(Trajectory.load(session), env, out, LiveOptions(mask_selectors=MASKS, **options),
                        model=model).run()
    return report, model


def _state(server) -> dict:
    return httpx.get(server.url("state")).json()


def test_the_demonstration_is_a_trajectory_of_the_model_format(recorded: Path):
    t = Trajectory.load(recorded)
    actions = [s["action"]["action"] for s in t.steps]
    assert actions == ["left_click", "type", "left_click", "type", "left_click", "left_click", "left_click", "terminate"]
    assert t.steps[1]["action"]["text"] == "alice" and t.steps[3]["action"]["text"] == "wonderland"
    first = t.steps[0]
    assert first["result"]["info"]["target"] == "input#username"
    assert first["model_points"]["coordinate"] != first["screen_points"]["coordinate"]  # 1288x728 vs 1280x720
    box = first["result"]["info"]["target_box"]
    x, y = first["screen_points"]["coordinate"]
    assert box[0] <= x <= box[2] and box[1] <= y <= box[3]
    assert all((recorded / s["screenshot"]).is_file() for s in t.steps)
    assert t.result["outcome"] == "success"


def test_unchanged_app_replays_with_zero_model_calls(session, live_env, server, tmp_path):
    env = live_env(server.url("demo/"))
    report, model = _replay(session, env, tmp_path / "out")
    assert report.passed, report.summary()
    assert [s.status for s in report.steps] == ["replayed"] * 8
    assert model.calls == 0 and report.model_calls == 0
    state = _state(server)
    assert state["signedIn"] and state["settings"]["emailNotifications"] is True
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["passed"] and saved["replayed"] == 8 and saved["model_calls"] == 0


def test_moved_button_is_detected_and_healed(session, live_env, server, tmp_path):
    env = live_env(server.url("demo/?variant=moved"))
    report, model = _replay(session, env, tmp_path / "out")
    assert report.passed, report.summary()
    statuses = [s.status for s in report.steps]
    assert statuses[4] == "healed" and statuses.count("healed") == 1, statuses
    healed = report.steps[4]
    assert healed.similarity["target"] < 0.9  # the drift was seen where the button used to be
    assert model.calls == healed.model_calls == report.model_calls == 1
    button = model.found[0]  # where the button was on the live page when the model looked
    old, new = healed.old_point, healed.new_point
    assert not (button[1] <= old[1] <= button[3])  # the recorded point misses the moved button
    assert button[0] <= new[0] <= button[2] and button[1] <= new[1] <= button[3]
    assert healed.next_similarity >= 0.9  # what followed matched what the recording saw next
    with Image.open(healed.side_by_side) as picture:
        assert picture.width > 2 * 1280
    state = _state(server)
    assert state["signedIn"] and state["settings"]["emailNotifications"] is True
    prompt = model.prompts[0]
    assert len(prompt.images) == 2 and "signin-button" in prompt.user  # the crop, then the live screen


def test_renamed_tab_is_healed(session, live_env, server, tmp_path):
    env = live_env(server.url("demo/?variant=renamed"))
    report, _ = _replay(session, env, tmp_path / "out")
    assert report.passed, report.summary()
    assert [s.status for s in report.steps].count("healed") == 1 and report.steps[5].status == "healed"
    assert _state(server)["settings"]["emailNotifications"] is True


def test_no_heal_fails_on_drift_without_model_calls(session, live_env, server, tmp_path):
    env = live_env(server.url("demo/?variant=moved"))
    report, model = _replay(session, env, tmp_path / "out", heal=False)
    assert not report.passed
    assert report.failed_step.index == 5 and "drifted" in report.failed_step.reason
    assert model.calls == 0
    assert "step 5" in report.summary() and "screenshots/0005" in report.summary()
    assert Path(report.failed_step.side_by_side).is_file() and "side by side" in report.summary()


def test_max_heals_bounds_the_heals(session, live_env, server, tmp_path):
    env = live_env(server.url("demo/?variant=moved"))
    report, model = _replay(session, env, tmp_path / "out", max_heals=0)
    assert not report.passed and "--max-heals 0" in report.reason and model.calls == 0


def test_a_real_regression_is_not_healed_away(session, live_env, server, tmp_path):
    """The Settings tab is gone: the model's answer is executed, but the screen that follows is not the
    recorded one, so the step fails instead of being counted as healed."""
    env = live_env(server.url("demo/?variant=gone"))
    report, model = _replay(session, env, tmp_path / "out")
    assert not report.passed
    failed = report.failed_step
    assert failed.index == 6 and model.calls == 1
    assert "does not match what the recording saw next" in failed.reason
    assert failed.next_similarity < 0.9
    assert _state(server)["settings"]["emailNotifications"] is False


def test_update_writes_the_healed_session_back_with_a_backup(session, live_env, server, tmp_path):
    from agent.regression.session import update_session

    env = live_env(server.url("demo/?variant=renamed"))
    report, _ = _replay(session, env, tmp_path / "out")
    assert report.passed and report.heals == 1
    backup = update_session(session, tmp_path / "out")
    assert Trajectory.load(backup).steps == Trajectory.load(session.parent / backup.name).steps
    updated = Trajectory.load(session)
    assert len(updated.steps) == 8 and updated.result["outcome"] == "success"
    assert any(a.get("heal") for s in updated.steps for a in s["attempts"])
    # the updated recording replays on the renamed app with no model at all
    env2 = live_env(server.url("demo/?variant=renamed"))
    again, model = _replay(session, env2, tmp_path / "again")
    assert again.passed and model.calls == 0, again.summary()


def test_assertions_are_checked_and_never_healed(session, live_env, server, tmp_path):
    from agent.regression import assertions

    assertions.add(session, assertions.TextVisible(after_step=5, text="Signed in as alice"))
    assertions.add(session, assertions.UrlMatches(pattern=r"/demo/$"))
    assertions.add(session, assertions.FinalScreen(mask_selectors=MASKS))
    report, _ = _replay(session, live_env(server.url("demo/")), tmp_path / "ok")
    assert report.passed and [a.passed for a in report.assertions] == [True, True, True], report.summary()

    assertions.add(session, assertions.TextVisible(after_step=6, text="Signed in as bob"))
    report, model = _replay(session, live_env(server.url("demo/")), tmp_path / "bad")
    assert not report.passed and model.calls == 0
    assert "Signed in as bob" in report.reason
    with pytest.raises(Exception, match="steps 1 to 8"):
        assertions.add(session, assertions.TextVisible(after_step=9, text="x"))


def test_drift_without_a_model_fails_with_what_to_do(session, live_env, server, tmp_path):
    env = live_env(server.url("demo/?variant=moved"))
    report = LiveReplay(Trajectory.load(session), env, tmp_path / "out", LiveOptions(mask_selectors=MASKS)).run()
    assert not report.passed and "no model is configured" in report.failed_step.reason
