"""A SIGTERM between a run's ``running`` row and the guard's handlers is held, not fatal.

The runner holds SIGTERM and SIGINT from before it records the run until the guard has
installed its handlers; a signal sent in between reaches the guard then (and the run is
recorded as interrupted) instead of killing the process with nothing recorded."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import os, signal, time
from gstjobs.guard import hold_signals, release_signals
hold_signals()
os.kill(os.getpid(), signal.SIGTERM)   # sent in the window: the default would kill us
time.sleep(0.2)
print("alive", flush=True)
seen = []
signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
release_signals()                      # the guard's handlers are in place: deliver it
time.sleep(0.05)
print("handled" if seen == [signal.SIGTERM] else f"lost {seen}", flush=True)
"""


def test_a_signal_in_the_window_waits_for_the_guard() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["alive", "handled"]


def test_without_holding_the_same_signal_kills() -> None:
    """The control: the probe's signal is fatal when nothing holds it."""
    unheld = PROBE.replace("hold_signals()\n", "")
    done = subprocess.run(
        [sys.executable, "-c", unheld], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == -15 and "alive" not in done.stdout
