"""The conformance check passes a correct adapter and catches a broken one."""

from __future__ import annotations

import pytest

from agent.geometry import Size
from environments.base import Observation
from environments.canvas import CanvasEnvironment
from environments.conformance import assert_conformant, check_environment


@pytest.mark.parametrize("size", [Size(1280, 720), Size(1920, 1080), Size(390, 844), Size(1366, 768)])
@pytest.mark.parametrize("scale", [1.0, 1.25, 1.5, 2.0])
def test_canvas_environment_conforms(size: Size, scale: float) -> None:
    env = CanvasEnvironment(size, scale)
    checks = check_environment(env, env)
    assert len(checks) == 7
    assert_conformant(checks, f"{size}@{scale}")


def test_a_hidpi_bug_is_caught() -> None:
    class ForgetsTheScale(CanvasEnvironment):
        """Reports the screenshot's size as the input size: the classic HiDPI bug."""

        def observe(self) -> Observation:
            obs = super().observe()
            return Observation(obs.screenshot, obs.screenshot_size, obs.origin, obs.info)

    env = ForgetsTheScale(Size(1280, 720), 2.0)
    with pytest.raises(AssertionError, match="clicks missed"):
        assert_conformant(check_environment(env, env), "buggy")
