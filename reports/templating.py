"""The HTML pages (report, leaderboard) from Jinja2 templates in `reports/templates/`.

Autoescape is on for every template, so text from models, users or files can never become
markup: a page shows `<script>` as text, whatever a model name or a setting holds.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def environment() -> Environment:
    return Environment(loader=PackageLoader("cotbench.reports", "templates"), autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, keep_trailing_newline=True)


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
