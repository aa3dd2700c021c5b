#!/usr/bin/env python
"""Run administrative tasks of the example project."""

import os
import sys
from pathlib import Path


def main() -> None:
    """Put the repository root first on sys.path, then run the command."""
    # The repository root, so that "example_project" and the development copy of
    # "django_live_notify" are importable wherever the command is run from.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
