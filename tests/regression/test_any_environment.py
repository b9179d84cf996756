"""Live replay is not tied to the browser: any `Environment` works, and without a DOM a text assertion is a
yes/no question to the model. Here the "live app" is the recording's own screens (`ReplayEnvironment`)."""

from __future__ import annotations

import json

from agent.models.replay import ReplayModel
from agent.regression import assertions
from agent.regression.live import LiveOptions, LiveReplay
from agent.trajectory import Trajectory
from environments.replay import ReplayEnvironment


def _answer(text: str) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": {"action": "answer", "text": text}}) + \
        "\n</tool_call>"


def test_replay_on_recorded_screens_needs_no_model_and_asks_it_yes_or_no(session, tmp_path):
    assertions.add(session, assertions.TextVisible(after_step=5, text="Signed in as alice"))
    recorded = Trajectory.load(session)
    model = ReplayModel([_answer("yes")])
    report = LiveReplay(recorded, ReplayEnvironment(recorded), tmp_path / "yes", LiveOptions(), model=model).run()
    assert report.passed, report.summary()
    assert [s.status for s in report.steps] == ["replayed"] * 8
    assert model.calls == 1 and report.model_calls == 1  # the question, nothing else
    assert "Signed in as alice" in model.prompts[0].user and "yes or no" in model.prompts[0].user
    assert report.assertions[0].passed and "yes" in report.assertions[0].detail

    model = ReplayModel([_answer("No, it is not")])
    report = LiveReplay(recorded, ReplayEnvironment(recorded), tmp_path / "no", LiveOptions(), model=model).run()
    assert not report.passed and "Signed in as alice" in report.reason and model.calls == 1
