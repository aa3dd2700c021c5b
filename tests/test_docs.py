"""The "Try it" snippets of the feature pages run as they are printed."""

import re
import textwrap
from pathlib import Path

import pytest

from django_live_notify import actions

DOCS = Path(__file__).resolve().parent.parent / "docs"
SNIPPET = re.compile(
    r"^\.\. code-block:: python\n   :caption: Try it in python manage\.py shell\n\n((?:(?: {4}.*)?\n)+)", re.M
)


@pytest.fixture
def restore_handlers():
    before = dict(actions._handlers)
    yield
    actions._handlers.clear()
    actions._handlers.update(before)


@pytest.mark.parametrize("page", ["preferences", "grouping", "actions", "retention"])
def test_the_snippet_runs_and_runs_again(page, db, restore_handlers, settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    snippets = SNIPPET.findall((DOCS / f"{page}.rst").read_text(encoding="utf-8"))
    assert len(snippets) == 1
    code = textwrap.dedent(snippets[0])
    for _run in range(2):  # Pasted twice into the same shell, it still works.
        exec(compile(code, f"docs/{page}.rst", "exec"), {"__name__": "__main__"})
