"""The shipped static files keep to their size budget (docs/inbox.rst), gzipped as servers send them."""

import gzip
from pathlib import Path

import django_live_notify

STATIC = Path(django_live_notify.__file__).parent / "static" / "django_live_notify"
# Bytes, gzipped at level 9; docs/inbox.rst states the same figures.
BUDGETS = {
    ("live-notify.js", "live-notify-inbox.js", "live-notify-plural.js"): 23 * 1024,
    ("live-notify.css",): 6 * 1024,
    ("live-notify-sw.js",): 3 * 1024,
}


def gzipped_size(name: str) -> int:
    return len(gzip.compress((STATIC / name).read_bytes(), compresslevel=9))


def test_the_shipped_js_and_css_keep_to_their_gzipped_budget():
    for names, budget in BUDGETS.items():
        total = sum(gzipped_size(name) for name in names)
        assert total <= budget, f"{' + '.join(names)}: {total} bytes gzipped, over the budget of {budget}"


def test_every_shipped_static_file_has_a_budget():
    budgeted = {name for names in BUDGETS for name in names}
    assert {path.name for path in STATIC.iterdir()} == budgeted
