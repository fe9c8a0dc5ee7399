"""The test suite at another hour of the day: ``python tests/at_hour.py 23:57 [pytest args]``.

gstjobs turns at hours: quiet hours from 21:00 to 08:00, the daily slots from 07:00 to
09:00, the nightly snapshot at 23:59, the local date at midnight and the UTC date at
05:30 IST. CI runs at whatever hour it is started, so a test that holds only by day
fails by night (two run-due tests failed just after midnight IST). Here every clock the suite sees,
pytest's, each ``gstjobs`` process's and the embedded PostgreSQL's, is moved by one
offset (libfaketime, preloaded into the whole process tree) so that Asia/Kolkata reads
HH:MM as the suite starts; then time runs on as usual (monotonic clocks are left alone,
so timeouts keep their length). Always the embedded server in a throwaway directory: a
server started elsewhere keeps the real clock. ``make hours`` runs it at the hours in
``HOURS``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


def offset_to(hour_minute: str, now: datetime) -> int:
    """Seconds from ``now`` to the next HH:MM in Asia/Kolkata."""
    hour, minute = (int(part) for part in hour_minute.split(":"))
    local = now.astimezone(IST)
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target < local:
        target += timedelta(days=1)
    return int((target - local).total_seconds())


def main(argv: list[str]) -> int:
    if not argv or not re.fullmatch(r"([01]?[0-9]|2[0-3]):[0-5][0-9]", argv[0]):
        print("usage: python tests/at_hour.py HH:MM [pytest arguments]", file=sys.stderr)
        return 2
    import libfaketime  # type: ignore[import-untyped]

    _, preload = libfaketime.get_reload_information()
    if "LD_PRELOAD" not in preload:
        print("tests/at_hour.py needs Linux (LD_PRELOAD)", file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if k not in ("GSTJOBS_TEST_DATABASE_URL",)}
    env.pop("DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="gstjobs-at-hour-") as data:
        env.update(
            LD_LIBRARY_PATH=_joined(preload["LD_LIBRARY_PATH"], env.get("LD_LIBRARY_PATH")),
            LD_PRELOAD=_joined(preload["LD_PRELOAD"], env.get("LD_PRELOAD")),
            FAKETIME=f"+{offset_to(argv[0], datetime.now(IST))}",
            FAKETIME_DONT_FAKE_MONOTONIC="1",
            XDG_DATA_HOME=data,
        )
        print(f"== the suite at {argv[0]} IST (FAKETIME={env['FAKETIME']}s)", flush=True)
        return subprocess.call([sys.executable, "-m", "pytest", "-q", *argv[1:]], env=env)


def _joined(first: str, rest: str | None) -> str:
    return f"{first}:{rest}" if rest else first


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
