"""``python -m gstjobs`` runs the CLI."""

from __future__ import annotations

import sys

from gstjobs.cli import main

sys.exit(main())
