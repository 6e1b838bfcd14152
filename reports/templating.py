"""The HTML pages from Jinja2 templates, each in its own folder's `templates/`
(`reports/templates/report.html.j2`, `leaderboard/templates/leaderboard.html.j2`).

Autoescape is on for every template, so text from models, users or files can never become
markup: a page shows `<script>` as text, whatever a model name or a setting holds.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def environment(package: str) -> Environment:
    return Environment(loader=PackageLoader(package, "templates"), autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, keep_trailing_newline=True)


def render(template: str, package: str = "cotbench.reports", **context) -> str:
    """`template` from the `templates/` folder of `package`."""
    return environment(package).get_template(template).render(**context)
