"""``python -m gstjobs`` runs the CLI.

``app`` is here for Typer's generator, which loads a module outside ``sys.modules``
(where ``gstjobs.cli``'s dataclasses cannot be built): ``make docs`` runs
``typer gstjobs.__main__ utils docs --name gstjobs --output docs/cli.md``.
"""

from __future__ import annotations

import sys

from gstjobs.cli import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    sys.exit(main())
