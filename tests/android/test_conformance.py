"""The conformance check through the adb adapter against the simulated phone, at several geometries."""

from __future__ import annotations

import pytest

from agent.geometry import Size
from agent.loop import AgentConfig
from environments.android.env import AndroidEnvironment
from environments.android_sim import Phone
from environments.android_sim.display import SimTargetDisplay
from environments.conformance import assert_conformant, check_environment, default_boxes


@pytest.mark.parametrize(
    ("physical", "logical", "rotation"),
    [
        (Size(1080, 2400), None, 0),
        (Size(720, 1280), None, 0),
        (Size(1080, 2400), Size(720, 1600), 0),  # wm size override: screenshot 1080x2400, taps in 720x1600
        (Size(720, 1280), None, 1),  # landscape
    ],
    ids=["1080x2400", "720x1280", "logical-720x1600-on-1080x2400", "720x1280-landscape"],
)
def test_clicks_land_on_targets(adb_server, physical, logical, rotation):
    phone = adb_server.add("emulator-5554", Phone(physical))
    phone.override = logical
    phone.put_setting("system", "user_rotation", str(rotation))
    with AndroidEnvironment(port=adb_server.port, settle=0) as env:
        obs = env.observe()
        expected = logical or physical
        if rotation % 2:
            expected = Size(expected.height, expected.width)
        assert obs.input_size == expected and obs.info["rotation"] == rotation
        assert obs.screenshot_size == (Size(physical.height, physical.width) if rotation % 2 else physical)
        display = SimTargetDisplay(env.shell)
        configs = [AgentConfig(max_steps=1, max_retries=0)]
        if physical.width == 1080:  # and a small model space, so model and input sizes differ a lot
            configs.append(AgentConfig(max_steps=1, max_retries=0, max_pixels=256 * 28 * 28))
        for config in configs:
            checks = check_environment(env, display, default_boxes(obs.input_size, side=16), config=config)
            assert_conformant(checks, f"{physical} logical={logical} rotation={rotation} max_pixels={config.max_pixels}")
            assert all(c.landed is not None for c in checks)
