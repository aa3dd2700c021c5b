"""Sphinx configuration of the django-live-notify documentation."""

import os
import re
import sys
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent

# Import the package from this checkout, with the test project's settings, so autodoc works.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

project = "django-live-notify"
author = "django-live-notify contributors"
copyright = "django-live-notify contributors"
# Read by parsing the text, not by importing, so the version never depends on import side effects.
release = re.search(
    r'^__version__ = "([^"]+)"', (ROOT / "django_live_notify" / "__init__.py").read_text(encoding="utf-8"), re.M
).group(1)
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]
templates_path = []
html_static_path = ["_static"] if (Path(__file__).parent / "_static").is_dir() else []

html_theme = "furo"
html_title = f"django-live-notify {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"undoc-members": False}

# Django's lazy objects and the model's managers make noisy signatures; keep them short.
python_use_unqualified_type_names = True

# Every cross-reference must resolve (tox -e docs builds with -W): a broken :doc:, :ref:, :class: or :func:
# to our own API fails the build. Only names of other projects are let through, since there is no
# intersphinx (the build never goes online).
nitpicky = True
nitpick_ignore_regex = [
    ("py:class", r"(collections\.abc|datetime|django|channels)\..+"),
    ("py:class", r"datetime"),
    ("py:class", r"uuid\.UUID"),
    # channels' test communicator, which django_live_notify.testing imports for type checking only.
    ("py:class", r"WebsocketCommunicator"),
    # Type variables of generic classes (Batcher[Item, Result]) have no pages of their own.
    ("py:class", r"django_live_notify\.batching\.(Item|Result)"),
]
