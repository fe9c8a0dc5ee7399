"""`make bench` (delivery): how fast the deliver job sends, beside the floor.

In one run, against the same loopback servers (each in a process of its own):

- the floor: a plain smtplib loop over one connection sending the very bytes gstjobs
  would send for the same notifications (built beforehand, not timed) to an aiosmtpd
  server that accepts everything;
- ``gstjobs run deliver`` to that server with GSTJOBS_SMTP_CONNECTIONS=1 and =4;
- the file channel (no SMTP_HOST);
- WhatsApp to a loopback HTTP/1.1 server answering as the Cloud API, 4 connections;
- peak RSS (wait4's ru_maxrss) of one deliver run draining BENCH_DELIVERY_DRAIN
  messages to the file channel.

A deliver run's rate is notificationsSent / its executionTime (the run's own time as
the ledger records it; process start-up and imports are in the wall time beside it).
Settings (environment):
  BENCH_DELIVERY_MESSAGES  messages per speed measurement (default 5000)
  BENCH_DELIVERY_DRAIN     messages for the memory measurement (default 100000; 0: skip)
  BENCH_DELIVERY_REPEATS   rounds of the SMTP measurements (default 3; the median is shown)
  BENCH_DATABASE_URL       admin URL of the server (else GSTJOBS_TEST_DATABASE_URL, else
                           the embedded PostgreSQL in a temporary directory)
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from gstjobs import migrate
from gstjobs.config import load_settings
from gstjobs.notify.compose import Composer
from gstjobs.notify.message import Prepared

OUT = Path(__file__).parent / "out"
TENANTS = 100

SMTP_SERVER = """
import sys, time
from aiosmtpd.controller import Controller
class Accept:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued"
controller = Controller(Accept(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""

WHATSAPP_SERVER = """
import json, sys, itertools
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ids = itertools.count(1)
class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps({"messaging_product": "whatsapp",
                             "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                             "messages": [{"id": f"wamid.BENCH{next(ids)}"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Api)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
"""

LOAD = text(
    """
    WITH firms AS (
        INSERT INTO tenants (id, name, timezone)
        SELECT gen_random_uuid(), 'Practice ' || g, 'Asia/Kolkata'
        FROM generate_series(1, :tenants) AS g
        RETURNING id
    ), people AS (
        INSERT INTO users (id, tenant_id, full_name, email, phone, role, whatsapp_opt_in)
        SELECT gen_random_uuid(), f.id, 'Advocate ' || u, 'advocate' || u || '@firm.example',
               '+9198' || lpad((row_number() OVER ())::text, 8, '0'), 'advocate', true
        FROM firms f CROSS JOIN generate_series(1, 10) AS u
        RETURNING id, tenant_id
    ), numbered AS (
        SELECT p.*, row_number() OVER (ORDER BY p.tenant_id, p.id) AS n FROM people p
    )
    INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                               urgency)
    SELECT p.tenant_id, p.id, :channel, 'hearing_reminder',
           jsonb_build_object(
               'hearing_id', gen_random_uuid(), 'case_id', gen_random_uuid(),
               'case_number', 'GST/APL/2025/' || lpad(g::text, 6, '0'),
               'case_title', 'Acme Traders v. State Tax Officer, Ahmedabad',
               'court_name', 'GST Appellate Tribunal', 'court_city', 'Ahmedabad',
               'hearing_date', now() + interval '1 day', 'purpose', 'Final arguments',
               'roles', jsonb_build_array('owner', 'assigned advocate')),
           'bench:' || g, 1
    FROM generate_series(1, :messages) AS g
    JOIN numbered p ON p.n = 1 + (g % (SELECT count(*) FROM numbered))
    """
)

RUN_TIME = text("SELECT duration_ms FROM job_runs WHERE id = :id")

ROWS = text(
    """
    SELECT n.id, n.tenant_id, n.user_id, n.channel, n.template, n.payload, n.urgency,
           t.name AS firm_name, t.timezone, true AS active, u.full_name, u.email, u.phone,
           u.whatsapp_opt_in
    FROM notifications n JOIN tenants t ON t.id = n.tenant_id JOIN users u ON u.id = n.user_id
    ORDER BY n.id
    """
)


@dataclass
class Figure:
    label: str
    messages: int
    seconds: float
    wall: float
    rss_mb: float | None = None

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(script: str, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready"
    return proc


def fresh(engine: Engine, messages: int, channel: str = "email") -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE notifications, users, tenants, delivery_channels CASCADE"))
        conn.execute(LOAD, {"tenants": TENANTS, "messages": messages, "channel": channel})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE notifications")
        )


def deliver(engine: Engine, env: dict[str, str], label: str) -> Figure:
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gstjobs", "-q", "run", "deliver", "--trigger", "manual", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - began
    doc = json.loads(out)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label}: {doc.get('error')}")
    sent = doc["results"]["notificationsSent"]
    with engine.connect() as conn:
        ms = conn.execute(RUN_TIME, {"id": doc["runId"]}).scalar_one()
    return Figure(label, sent, ms / 1000, wall, usage.ru_maxrss / 1024)


def floor(engine: Engine, port: int, settings_env: dict[str, str], threads: int = 1) -> Figure:
    """A plain smtplib loop over one connection, sending the bytes gstjobs would send.

    With ``threads`` > 1, that many such loops at once, each over its own connection:
    the most the server takes, with nothing to render and nothing to record."""
    settings = load_settings(settings_env)
    composer = Composer(settings, {"email": "smtp", "whatsapp": "whatsapp", "console": "file"})
    with engine.connect() as conn:
        rows = conn.execute(ROWS).fetchall()
    built = composer.compose(rows, uuid.uuid4(), time.monotonic() + 600, datetime.now(UTC))
    mails = [(m.recipient, m.data) for m in built if isinstance(m, Prepared)]

    def loop(share: list[tuple[str, bytes]]) -> None:
        conn = smtplib.SMTP("127.0.0.1", port)
        conn.ehlo()
        for recipient, data in share:
            conn.sendmail("reminders@practice.example", [recipient], data)
        conn.quit()

    workers = [threading.Thread(target=loop, args=(mails[n::threads],)) for n in range(threads)]
    began = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.monotonic() - began
    label = (
        "floor: smtplib loop, 1 connection"
        if threads == 1
        else f"ceiling: {threads} smtplib loops at once (nothing rendered or recorded)"
    )
    return Figure(label, len(mails), seconds, seconds)


def main() -> None:
    messages = int(os.environ.get("BENCH_DELIVERY_MESSAGES", "5000"))
    drain = int(os.environ.get("BENCH_DELIVERY_DRAIN", "100000"))
    repeats = int(os.environ.get("BENCH_DELIVERY_REPEATS", "3"))
    raw = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("GSTJOBS_TEST_DATABASE_URL")
    server = None
    if raw:
        admin: URL = make_url(raw).set(drivername="postgresql+psycopg")
    else:
        import pgserver

        server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="gstjobs-bd-")), "stop")
        admin = make_url(server.get_uri()).set(drivername="postgresql+psycopg")
    name = "gstjobs_bench_delivery"
    root = create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with root.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(admin.set(database=name), poolclass=NullPool)
    migrate.upgrade(engine)
    url = admin.set(database=name, drivername="postgresql").render_as_string(hide_password=False)
    smtp_port, wa_port = free_port(), free_port()
    smtp, whatsapp = start(SMTP_SERVER, smtp_port), start(WHATSAPP_SERVER, wa_port)
    outbox = Path(tempfile.mkdtemp(prefix="gstjobs-bench-files-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GSTJOBS_", "SMTP_"))}
    base |= {
        "DATABASE_URL": url,
        "NO_COLOR": "1",
        "GSTJOBS_OUTBOX_DIR": str(outbox),
        "GSTJOBS_NOTIFY_CAP": str(max(messages, drain)),
        "GSTJOBS_DELIVERY_DEADLINE": "3600",
        "GSTJOBS_QUIET_HOURS": "off",
    }
    smtp_env = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "Reminders <reminders@practice.example>",
    }
    wa_env = {
        "WHATSAPP_API_URL": f"http://127.0.0.1:{wa_port}/v21.0",
        "WHATSAPP_PHONE_NUMBER_ID": "1098765432",
        "WHATSAPP_ACCESS_TOKEN": "bench-token",
        "GSTJOBS_WHATSAPP_CONNECTIONS": "4",
    }
    figures: list[Figure] = []
    try:
        # The SMTP measurements alternate, round after round, so that a change in the
        # machine's load falls on all of them alike; each figure is the median round.
        rounds: dict[str, list[Figure]] = {}
        for _ in range(repeats):
            fresh(engine, messages)
            rounds.setdefault("floor", []).append(floor(engine, smtp_port, base | smtp_env))
            ceiling = floor(engine, smtp_port, base | smtp_env, threads=4)
            rounds.setdefault("ceiling", []).append(ceiling)
            for connections in (1, 4):
                fresh(engine, messages)
                env = base | smtp_env | {"GSTJOBS_SMTP_CONNECTIONS": str(connections)}
                label = f"gstjobs deliver, SMTP, {connections} connection(s)"
                rounds.setdefault(label, []).append(deliver(engine, env, label))
        for runs in rounds.values():
            figures.append(sorted(runs, key=lambda f: f.rate)[len(runs) // 2])
        fresh(engine, messages)
        figures.append(deliver(engine, base, "gstjobs deliver, file channel"))
        fresh(engine, messages, "whatsapp")
        label = "gstjobs deliver, WhatsApp API, 4 connections"
        figures.append(deliver(engine, base | wa_env, label))
        if drain:
            shutil.rmtree(outbox, ignore_errors=True)
            # On tmpfs when there is one: removing 100,000 files from a disk mounted
            # with online discard takes minutes, and only memory is measured here.
            shm = Path("/dev/shm")
            if shm.is_dir():
                outbox = Path(tempfile.mkdtemp(prefix="gstjobs-bench-files-", dir=shm))
                base["GSTJOBS_OUTBOX_DIR"] = str(outbox)
            fresh(engine, drain)
            where = " (tmpfs)" if str(outbox).startswith("/dev/shm") else ""
            label = f"gstjobs deliver, file channel{where}, draining {drain:,}"
            figures.append(deliver(engine, base, label))
    finally:
        for proc in (smtp, whatsapp):
            proc.kill()
            proc.wait()
        engine.dispose()
        with root.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        root.dispose()
        shutil.rmtree(outbox, ignore_errors=True)
        if server is not None:
            server.cleanup()
    report(figures)


def report(figures: list[Figure]) -> None:
    base = figures[0].rate
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# gstjobs delivery bench",
        "",
        f"Machine: {os.cpu_count()} cores (load average {load:.1f} at the end); Python "
        f"{sys.version.split()[0]}; {TENANTS} practices; aiosmtpd and the HTTP server in "
        "processes of their own; SMTP figures are the median of BENCH_DELIVERY_REPEATS rounds.",
        "",
        "| measurement | messages | seconds | msg/s | x floor | wall s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        ratio = f"{f.rate / base:.2f}" if "SMTP" in f.label or "smtplib" in f.label else ""
        rss = f"{f.rss_mb:.0f}" if f.rss_mb else ""
        lines.append(
            f"| {f.label} | {f.messages:,} | {f.seconds:.1f} | {f.rate:,.0f} | {ratio} | "
            f"{f.wall:.1f} | {rss} |"
        )
    text_ = "\n".join(lines)
    OUT.mkdir(exist_ok=True)
    (OUT / "delivery.md").write_text(text_ + "\n")
    print(text_)


if __name__ == "__main__":
    main()
