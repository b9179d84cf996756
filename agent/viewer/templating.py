"""Jinja2 with autoescaping over the package's templates: model text is shown, never interpreted as HTML."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("agent.viewer", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "-" if v is None else f"{v:.1%}"
    env.filters["num"] = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"
    return env


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)
