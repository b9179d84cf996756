"""The BrowserGym peer benchmark's harness works (not timed; the figures are `make bench`'s).

Needs ``.venv-browsergym`` (``make browsergym-venv``, which ``make test`` builds): BrowserGym's MiniWoB++
runs there behind tests/bench/browsergym_driver.py on Debian's chromium. One episode of click-checkboxes
in ours and in both BrowserGym settings: the same page (instruction), the same element under every click,
the same end.
"""

from __future__ import annotations

import pytest

from environments.chromium import find_chromium
from tasks.miniwob.suite import open_browser
from tests.bench.bench_browsergym import Peer, browsergym_python, ours, page_seed, theirs
from tests.conftest import require_chromium


@pytest.fixture(scope="module")
def peer():
    require_chromium()
    try:
        python = browsergym_python()
    except SystemExit as exc:  # missing venv: fail with the message saying how to build it
        pytest.fail(str(exc), pytrace=False)
    peer = Peer(python, find_chromium())
    yield peer
    peer.close()


def test_both_harnesses_see_the_same_page_and_clicks(peer) -> None:
    env = open_browser()
    try:
        mine = ours(env, "click-checkboxes", page_seed(1))
    finally:
        env.close()
    assert mine["points"] and mine["done"][-1] is True  # checkboxes, then Submit ends the episode
    for setting in ("defaults", "cheapest"):
        run = theirs(peer, setting, "click-checkboxes", 1, mine["points"])
        assert run["goal"] == mine["goal"] and run["page_seed"] == page_seed(1)
        assert run["hits"] == mine["hits"] and all(hit for hit in run["hits"])
        assert (run["done"], run.get("success")) == (mine["done"], mine.get("success"))
        assert run["reset_s"] > 0 and len(run["steps"]) == len(mine["steps"]) and min(run["steps"]) > 0
