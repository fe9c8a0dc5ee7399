"""gstjobs: the background-jobs system of a GST litigation management system."""

from __future__ import annotations

__version__ = "0.1.0"
