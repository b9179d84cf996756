"""A real Chromium to load reports from file:// with every other request refused."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def open_report(browser):
    """``open_report(path)`` -> a page showing the report offline; ``page.requests`` lists what it asked for."""
    contexts = []

    def open_(path: Path, width: int = 1600):
        context = browser.new_context(viewport={"width": width, "height": 1000}, offline=True)
        contexts.append(context)
        requests: list[str] = []

        def route(r, request):
            requests.append(request.url)
            if request.url.startswith("file://"):
                r.continue_()
            else:
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.goto(Path(path).resolve().as_uri(), wait_until="load")
        page.requests = requests
        return page

    yield open_
    for context in contexts:
        context.close()
