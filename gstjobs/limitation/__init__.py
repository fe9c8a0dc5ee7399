"""Statutory limitation: the dates a GST practice lives by, computed from the statute.

``dates`` holds the date arithmetic (written once, tested exhaustively); the rules are
data (table ``limitation_rules``, loaded by migration 009); ``compute`` turns open
proceedings into rows of ``limitation_dates`` set-based in SQL; ``alerts`` emits the
events and queues the ``limitation_alert`` messages; ``register``, ``findings`` and
``demo`` are the library functions the command, the digest, the health report and the
demo use. See docs/statutory-dates.md for every rule with its source and confidence.
"""
