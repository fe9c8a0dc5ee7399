"""The analytics snapshot: metric definitions, anomaly detection, backfill and trend view.

``metrics`` measures every tenant and day of a run in one statement; ``anomalies`` is
the pure rule; ``snapshot`` ties them together and writes the rows; ``backfill``
turns a date range into one run; ``trend`` reads the series back for people.
The definitions are written down in docs/analytics.md.
"""
