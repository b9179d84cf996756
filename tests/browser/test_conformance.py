"""The conformance check in a real Chromium: clicks in model space land on targets at every size and scale."""

from __future__ import annotations

import pytest

from agent.geometry import Size
from environments.conformance import assert_conformant, check_environment, default_boxes
from tests.browser.conftest import ProbeDisplay

VIEWPORTS = [Size(1280, 720), Size(1920, 1080), Size(390, 844)]
SCALES = [1.0, 1.5, 2.0]


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=str)
@pytest.mark.parametrize("scale", SCALES, ids=lambda s: f"dsf{s:g}")
def test_clicks_land_on_targets(make_env, viewport: Size, scale: float) -> None:
    env = make_env(viewport, scale)
    observation = env.observe()
    assert observation.input_size == viewport
    assert observation.screenshot_size == Size(round(viewport.width * scale), round(viewport.height * scale))
    boxes = default_boxes(viewport, side=16)
    checks = check_environment(env, ProbeDisplay(env), boxes)
    assert_conformant(checks, f"{viewport} @ {scale:g}")
    assert len(checks) == len(boxes)


@pytest.mark.parametrize(("viewport", "scale"), [(Size(1366, 768), 1.25), (Size(390, 844), 3.0)], ids=str)
def test_fractional_and_large_scales(make_env, viewport: Size, scale: float) -> None:
    env = make_env(viewport, scale)
    checks = check_environment(env, ProbeDisplay(env), default_boxes(viewport, side=12))
    assert_conformant(checks, f"{viewport} @ {scale:g}")


def test_browser_keeps_the_environment_contract(browser) -> None:
    """Order of calls, framework actions above the adapter, an unsupported action fed back, close twice."""
    from environments.browser import BrowserEnvironment
    from environments.conformance import assert_contract

    assert_contract(BrowserEnvironment(None, Size(640, 480), browser=browser))
