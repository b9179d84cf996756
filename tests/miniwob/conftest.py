"""One real Chromium (the suite's own browser) shared by the MiniWoB++ tests of a module."""

from __future__ import annotations

import pytest

from agent.loop import AgentConfig
from tasks.miniwob.suite import MiniWoBSuite
from tests.miniwob.policy import DomPolicy


@pytest.fixture(scope="module")
def suite():
    """A `MiniWoBSuite` whose model is the DOM policy reading the suite's own page.

    Starting Chromium fails loudly (ConfigError) when it is missing: install Debian's `chromium`."""
    with MiniWoBSuite(None, AgentConfig(max_steps=12, max_retries=0)) as suite:
        suite.model = DomPolicy(suite.browser().page, suite.scale)
        yield suite
