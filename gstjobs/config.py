"""Settings, built once from the environment (and an optional .env file) in ``cli``.

Every setting has a type, a range and a one-line error that names it (exit 78), so a
malformed value stops the command before it touches the database, and a value that
passes cannot make a later run overflow or fail. ``SETTINGS`` lists them for the
documentation (a meta-test keeps docs/configuration.md complete).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gstjobs.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_TIMEZONE = "Asia/Kolkata"
SMTP_SECURITY_VALUES = ("none", "starttls", "ssl")
MIN_RETAIN_DAYS = 8
"""Retention never goes below this: the 7-day figures of status and health-report, and
the original specification's troubleshooting queries, read a week back."""
DEADLINE_PREFIX = "GSTJOBS_DEADLINE_"
"""``GSTJOBS_DEADLINE_<JOB>`` (e.g. GSTJOBS_DEADLINE_SLA_CHECK=300): one job's run deadline."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "unset: embedded", "postgresql://user:pass@host:port/db"),
    Setting("GSTJOBS_TIMEZONE", DEFAULT_TIMEZONE, "IANA time zone of schedules and output"),
    Setting("GSTJOBS_DATA_DIR", "~/.local/share/gstjobs", "embedded server and file outbox"),
    Setting("GSTJOBS_OUTBOX_DIR", "$GSTJOBS_DATA_DIR/outbox", "file channel folder"),
    Setting("GSTJOBS_CONNECT_TIMEOUT", "10", "seconds to reach the database (1-300)"),
    Setting("GSTJOBS_NETWORK_TIMEOUT", "30", "seconds before a silent link is given up (5-3600)"),
    Setting("GSTJOBS_DEADLINE_FACTOR", "10", "a run's deadline, in multiples of its max (1-100)"),
    Setting("GSTJOBS_DEADLINE_<JOB>", "factor x max", "one job's deadline in seconds (1-86400)"),
    Setting("GSTJOBS_LOCK_TIMEOUT", "the job's max", "seconds a run waits for a row lock (1-3600)"),
    Setting("GSTJOBS_OVERDUE_GRACE_MINUTES", "15", "minutes past due before overdue (0-1440)"),
    Setting("GSTJOBS_HEALTH_WINDOW_HOURS", "24", "window of the health check (1-2160)"),
    Setting("GSTJOBS_NOTIFY_CAP", "100", "messages per practice per delivery (1-100000)"),
    Setting("GSTJOBS_NOTIFY_MAX_ATTEMPTS", "5", "attempts before a message fails (1-100)"),
    Setting("GSTJOBS_RETAIN_DAYS", "90", "days of history prune keeps (8-36500)"),
    Setting("GSTJOBS_RETAIN_FAILED_DAYS", "365", "days failures are kept (>= RETAIN_DAYS)"),
    Setting("GSTJOBS_QUIET_HOURS", "21:00-08:00", "when routine messages wait, or off"),
    Setting("GSTJOBS_DELIVERY_DEADLINE", "50", "seconds one delivery run sends (1-3600)"),
    Setting("GSTJOBS_SEND_BUDGET", "60", "seconds a job sends its own rows (0-3600)"),
    Setting("GSTJOBS_SMTP_CONNECTIONS", "2", "SMTP connections in parallel (1-16)"),
    Setting("GSTJOBS_WHATSAPP_CONNECTIONS", "2", "WhatsApp connections in parallel (1-16)"),
    Setting("GSTJOBS_DIGEST_ITEMS", "20", "items a digest lists (1-500)"),
    Setting("APP_BASE_URL", "http://localhost:8080", "base of action links (http or https)"),
    Setting("SMTP_HOST", "unset: files", "SMTP server"),
    Setting("SMTP_PORT", "by security", "1-65535"),
    Setting("SMTP_SECURITY", "starttls", "none, starttls or ssl"),
    Setting("SMTP_USERNAME", "unset", "with SMTP_PASSWORD"),
    Setting("SMTP_PASSWORD", "unset", "with SMTP_USERNAME"),
    Setting("SMTP_FROM", "required with SMTP_HOST", "sender address"),
    Setting("SMTP_TIMEOUT", "30", "seconds per SMTP operation (1-300)"),
    Setting("WHATSAPP_API_URL", "unset: no WhatsApp", "Cloud API base URL"),
    Setting("WHATSAPP_PHONE_NUMBER_ID", "unset", "sender's phone number id"),
    Setting("WHATSAPP_ACCESS_TOKEN", "unset", "bearer token"),
    Setting("WHATSAPP_TIMEOUT", "15", "seconds per request (1-300)"),
)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    security: str
    sender: str
    timeout: float


@dataclass(frozen=True)
class WhatsAppSettings:
    api_url: str
    phone_number_id: str
    access_token: str
    timeout: float


@dataclass(frozen=True)
class Settings:
    database_url: URL | None
    """None: use the embedded PostgreSQL in ``data_dir``."""
    timezone: str
    data_dir: Path
    connect_timeout: int
    overdue_grace_minutes: int
    notify_cap: int
    notify_max_attempts: int
    health_window_hours: int
    app_base_url: str
    smtp: SmtpSettings | None
    whatsapp: WhatsAppSettings | None
    outbox_dir: Path | None
    network_timeout: float = 30.0
    deadline_factor: float = 10.0
    deadlines: Mapping[str, float] = field(default_factory=dict)
    """Per-job deadlines in seconds, keyed by the job's CLI name (``sla-check``)."""
    lock_timeout: float | None = None
    """None: each job's maximum acceptable time."""
    delivery: DeliverySettings = field(default_factory=lambda: DeliverySettings())
    retain_days: int = 90
    """GSTJOBS_RETAIN_DAYS: runs, audit rows, processed events, rule logs and sent
    notifications older than this are pruned (after they are summed per day)."""
    retain_failed_days: int = 365
    """GSTJOBS_RETAIN_FAILED_DAYS: failures are kept this long."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def deadline_for(self, cli_name: str, max_seconds: float) -> float:
        """The run deadline of a job: its own setting, else the factor times its max."""
        return self.deadlines.get(cli_name, self.deadline_factor * max_seconds)


# ---------------------------------------------------------------- one value each
def _raw(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = _raw(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {_shown(raw)}.") from None
    if not low <= value <= high:  # also refuses nan and inf
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {_shown(raw)}.")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _raw(env, name)
    if not raw:
        return default
    if not re.fullmatch(r"[+-]?\d{1,12}", raw):
        raise ConfigError(f"{name} must be a whole number, got {_shown(raw)}.")
    value = int(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}.")
    return value


def _shown(raw: str) -> str:
    """A bad value as a message may show it: quoted, and cut when long."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")


_IANA = re.compile(r"[A-Za-z][A-Za-z_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*){1,2}|UTC")


def check_timezone(value: str, name: str) -> str:
    """An IANA name (Area/Location, or UTC) that Python knows; abbreviations such as
    IST and offsets such as +05:30 are refused (PostgreSQL reads them differently)."""
    hint = "use an IANA name such as Asia/Kolkata"
    if len(value) > 64 or not _IANA.fullmatch(value):
        raise ConfigError(f"{name} {_shown(value)} is not an IANA time zone name; {hint}.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} {_shown(value)} is not a known time zone; {hint}.") from None
    return value


_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?|[0-9a-f:.]+")
"""A host name (letters, digits, dots, hyphens) or an IP address, as urlsplit gives it."""


def _http_url(env: Mapping[str, str], name: str, default: str, example: str) -> str:
    raw = _raw(env, name) or default
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or not _HOST.fullmatch(parts.hostname)
        or any(c.isspace() for c in raw)
    ):
        raise ConfigError(f"{name} must be an http(s) URL such as {example}, got {_shown(raw)}.")
    return raw.rstrip("/")


_ADDRESS = re.compile(r"[^@\s<>]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


def _email(env: Mapping[str, str], name: str) -> str:
    raw = _raw(env, name)
    _, address = parseaddr(raw)
    # parseaddr reads the first address and ignores the rest: a line break would carry
    # a header of its own into every message ("...\nBcc: someone").
    if not raw or not _ADDRESS.fullmatch(address) or any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ConfigError(
            f"{name} must be the sender's email address (e.g. reminders@yourfirm.in) "
            f"when SMTP_HOST is set, got {_shown(raw)}."
        )
    return raw


def _path(env: Mapping[str, str], name: str, default: Path | None) -> Path | None:
    raw = _raw(env, name)
    if not raw:
        return default
    if "\0" in raw or len(raw) > 1024:
        raise ConfigError(f"{name} is not a usable path.")
    return Path(raw).expanduser()


# ---------------------------------------------------------------- the database URL
def parse_database_url(raw: str, name: str = "DATABASE_URL") -> URL:
    """A ``postgresql://`` URL as SQLAlchemy's psycopg 3 URL; ConfigError when malformed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "expected postgresql://user:password@host:port/database"
    try:
        url = make_url(raw.strip())
        port = url.port  # a non-numeric port raises here
    except (ArgumentError, ValueError):
        raise ConfigError(f"{name} is not a URL; {example}.") from None
    if url.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ConfigError(
            f"{name} must start with postgresql://, got {url.drivername}://; {example}."
        )
    if not url.database:
        raise ConfigError(f"{name} names no database; add /DATABASE after the host.")
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"{name} has an invalid port {port}; use 1-65535.")
    unknown = sorted(set(url.query) - _libpq_options())
    if unknown:
        raise ConfigError(
            f"{name} has an option libpq does not know: {_shown(unknown[0])}; "
            "see the PostgreSQL docs on connection parameters."
        )
    return url.set(drivername="postgresql+psycopg")


def _libpq_options() -> set[str]:
    from psycopg import pq

    return {opt.keyword.decode() for opt in pq.Conninfo.get_defaults()}


# ---------------------------------------------------------------- .env files
def load_env_file(path: Path, *, required: bool) -> None:
    """Put the file's settings into ``os.environ`` (the environment wins over it).

    A file that is missing (when named with --env-file), not UTF-8, or has a line
    that is not ``NAME=value`` is a configuration error naming the file and line.
    """
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    shown = _shown(str(path))
    try:
        if not path.is_file():
            if required:
                raise ConfigError(f"--env-file {shown} does not exist or is not a file.")
            return
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{shown} is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read --env-file {shown}: {exc.strerror or exc}.") from None
    for binding in parse_stream(io.StringIO(content)):
        if binding.error:
            line = binding.original.string.strip()
            raise ConfigError(
                f"{shown}, line {binding.original.line}: {_shown(line)} is not NAME=value."
            )
    for key, value in dotenv_values(stream=io.StringIO(content)).items():
        if value is not None and key not in os.environ:
            os.environ[key] = value


# ---------------------------------------------------------------- all of them
def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gstjobs"


def load_settings(
    env: Mapping[str, str] | None = None, *, database_url: str | None = None
) -> Settings:
    """Validate the environment once. ``database_url`` (from the command line) wins."""
    env = os.environ if env is None else env
    raw_url = database_url if database_url is not None else _raw(env, "DATABASE_URL")
    url = (
        parse_database_url(raw_url, "--database-url" if database_url else "DATABASE_URL")
        if raw_url.strip()
        else None
    )
    timezone = check_timezone(_raw(env, "GSTJOBS_TIMEZONE") or DEFAULT_TIMEZONE, "GSTJOBS_TIMEZONE")
    data_dir = _path(env, "GSTJOBS_DATA_DIR", default_data_dir())
    assert data_dir is not None
    lock = None
    if _raw(env, "GSTJOBS_LOCK_TIMEOUT"):
        lock = _number(env, "GSTJOBS_LOCK_TIMEOUT", 0, 1, 3600)
    return Settings(
        database_url=url,
        timezone=timezone,
        data_dir=data_dir,
        connect_timeout=_int(env, "GSTJOBS_CONNECT_TIMEOUT", 10, 1, 300),
        overdue_grace_minutes=_int(env, "GSTJOBS_OVERDUE_GRACE_MINUTES", 15, 0, 1440),
        notify_cap=_int(env, "GSTJOBS_NOTIFY_CAP", 100, 1, 100_000),
        notify_max_attempts=_int(env, "GSTJOBS_NOTIFY_MAX_ATTEMPTS", 5, 1, 100),
        health_window_hours=_int(env, "GSTJOBS_HEALTH_WINDOW_HOURS", 24, 1, 2160),
        app_base_url=_http_url(
            env, "APP_BASE_URL", "http://localhost:8080", "https://app.yourfirm.in"
        ),
        smtp=_smtp(env),
        whatsapp=_whatsapp(env),
        outbox_dir=_path(env, "GSTJOBS_OUTBOX_DIR", None),
        network_timeout=_number(env, "GSTJOBS_NETWORK_TIMEOUT", 30, 5, 3600),
        deadline_factor=_number(env, "GSTJOBS_DEADLINE_FACTOR", 10, 1, 100),
        deadlines=_deadlines(env),
        lock_timeout=lock,
        delivery=load_delivery(env),
        retain_days=(retain := _int(env, "GSTJOBS_RETAIN_DAYS", 90, MIN_RETAIN_DAYS, 36500)),
        retain_failed_days=_int(env, "GSTJOBS_RETAIN_FAILED_DAYS", max(365, retain), retain, 36500),
    )


def _deadlines(env: Mapping[str, str]) -> dict[str, float]:
    out = {}
    for name in env:
        if name.startswith(DEADLINE_PREFIX) and name != "GSTJOBS_DEADLINE_FACTOR":
            job = name.removeprefix(DEADLINE_PREFIX).lower().replace("_", "-")
            if _raw(env, name):
                out[job] = _number(env, name, 0, 1, 86400)
    return out


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    host = _raw(env, "SMTP_HOST")
    if not host:
        return None
    if len(host) > 253 or not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host):
        raise ConfigError(f"SMTP_HOST must be a host name or address, got {_shown(host)}.")
    security = _raw(env, "SMTP_SECURITY").lower() or "starttls"
    if security not in SMTP_SECURITY_VALUES:
        raise ConfigError(
            f"SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY_VALUES)}, "
            f"got {_shown(security)}."
        )
    default_port = {"none": 25, "starttls": 587, "ssl": 465}[security]
    username = _raw(env, "SMTP_USERNAME") or None
    password = env.get("SMTP_PASSWORD") or None
    if bool(username) != bool(password):
        raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD must be set together.")
    return SmtpSettings(
        host=host,
        port=_int(env, "SMTP_PORT", default_port, 1, 65535),
        username=username,
        password=password,
        security=security,
        sender=_email(env, "SMTP_FROM"),
        timeout=_number(env, "SMTP_TIMEOUT", 30, 1, 300),
    )


def _whatsapp(env: Mapping[str, str]) -> WhatsAppSettings | None:
    names = ("WHATSAPP_API_URL", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_ACCESS_TOKEN")
    values = {n: _raw(env, n) for n in names}
    given = [n for n in names if values[n]]
    if not given:
        return None
    missing = [n for n in names if not values[n]]
    if missing:
        raise ConfigError(f"{missing[0]} must be set when {given[0]} is set (WhatsApp delivery).")
    if not re.fullmatch(r"\d{1,30}", values["WHATSAPP_PHONE_NUMBER_ID"]):
        raise ConfigError(
            "WHATSAPP_PHONE_NUMBER_ID must be the numeric id Meta shows for the number."
        )
    return WhatsAppSettings(
        api_url=_http_url(env, "WHATSAPP_API_URL", "", "https://graph.facebook.com/v21.0"),
        phone_number_id=values["WHATSAPP_PHONE_NUMBER_ID"],
        access_token=values["WHATSAPP_ACCESS_TOKEN"],
        timeout=_number(env, "WHATSAPP_TIMEOUT", 15, 1, 300),
    )


# ---------------------------------------------------------------- delivery
@dataclass(frozen=True)
class DeliverySettings:
    """How the outbox is sent (docs/notifications.md, delivery settings)."""

    run_deadline: float = 50.0
    """GSTJOBS_DELIVERY_DEADLINE: seconds one delivery run may send; well under the lease."""
    send_budget: float = 60.0
    """GSTJOBS_SEND_BUDGET: seconds a queuing job spends sending its own rows after commit."""
    quiet_hours: tuple[time, time] | None = (time(21, 0), time(8, 0))
    """GSTJOBS_QUIET_HOURS: (start, end) in each practice's timezone; None: never quiet."""
    smtp_connections: int = 2
    whatsapp_connections: int = 2
    digest_items: int = 20
    """GSTJOBS_DIGEST_ITEMS: items a digest lists before linking to the rest."""


def load_delivery(env: Mapping[str, str]) -> DeliverySettings:
    """The delivery settings, each validated with one sentence naming it."""
    quiet = _raw(env, "GSTJOBS_QUIET_HOURS").lower() or "21:00-08:00"
    window: tuple[time, time] | None = None
    if quiet not in ("off", "none"):
        try:
            start, end = (time.fromisoformat(part.strip()) for part in quiet.split("-"))
        except ValueError:
            raise ConfigError(
                "GSTJOBS_QUIET_HOURS must be HH:MM-HH:MM (e.g. 21:00-08:00) or off, "
                f"got {_shown(quiet)}."
            ) from None
        window = (start, end)
    return DeliverySettings(
        run_deadline=_number(env, "GSTJOBS_DELIVERY_DEADLINE", 50, 1, 3600),
        send_budget=_number(env, "GSTJOBS_SEND_BUDGET", 60, 0, 3600),
        quiet_hours=window,
        smtp_connections=_int(env, "GSTJOBS_SMTP_CONNECTIONS", 2, 1, 16),
        whatsapp_connections=_int(env, "GSTJOBS_WHATSAPP_CONNECTIONS", 2, 1, 16),
        digest_items=_int(env, "GSTJOBS_DIGEST_ITEMS", 20, 1, 500),
    )
