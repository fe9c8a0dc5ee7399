"""Settings, built once from the environment (and an optional .env file) in ``cli.main``.

Every value is validated here, so a malformed setting stops the command before it
touches the database, with one sentence that names the setting (exit 78).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from gstjobs.errors import ConfigError

DEFAULT_TIMEZONE = "Asia/Kolkata"
SMTP_SECURITY_VALUES = ("none", "starttls", "ssl")


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
    delivery: DeliverySettings = field(default_factory=lambda: DeliverySettings())

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}.")
    return value


def parse_database_url(raw: str, name: str = "DATABASE_URL") -> URL:
    """A ``postgresql://`` URL as SQLAlchemy's psycopg 3 URL; ConfigError when malformed."""
    try:
        url = make_url(raw.strip())
        port = url.port  # a non-numeric port raises here
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"{name} is not a URL; expected postgresql://user:password@host:port/database."
        ) from None
    if url.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ConfigError(
            f"{name} must start with postgresql://, got {url.drivername}://; "
            "expected postgresql://user:password@host:port/database."
        )
    if not url.database:
        raise ConfigError(f"{name} names no database; add /DATABASE after the host.")
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"{name} has an invalid port {port}.")
    return url.set(drivername="postgresql+psycopg")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gstjobs"


def load_settings(
    env: Mapping[str, str] | None = None, *, database_url: str | None = None
) -> Settings:
    """Validate the environment once. ``database_url`` (from the command line) wins."""
    env = os.environ if env is None else env
    raw_url = database_url if database_url is not None else env.get("DATABASE_URL", "")
    url = (
        parse_database_url(raw_url, "--database-url" if database_url else "DATABASE_URL")
        if (raw_url.strip())
        else None
    )

    timezone = env.get("GSTJOBS_TIMEZONE", "").strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"GSTJOBS_TIMEZONE {timezone!r} is not an IANA timezone such as Asia/Kolkata."
        ) from None

    data_dir = Path(env.get("GSTJOBS_DATA_DIR", "").strip() or default_data_dir())
    outbox_raw = env.get("GSTJOBS_OUTBOX_DIR", "").strip()

    return Settings(
        database_url=url,
        timezone=timezone,
        data_dir=data_dir,
        connect_timeout=_int(env, "GSTJOBS_CONNECT_TIMEOUT", 10, minimum=1),
        overdue_grace_minutes=_int(env, "GSTJOBS_OVERDUE_GRACE_MINUTES", 15),
        notify_cap=_int(env, "GSTJOBS_NOTIFY_CAP", 100, minimum=1),
        notify_max_attempts=_int(env, "GSTJOBS_NOTIFY_MAX_ATTEMPTS", 5, minimum=1),
        health_window_hours=_int(env, "GSTJOBS_HEALTH_WINDOW_HOURS", 24, minimum=1),
        app_base_url=(env.get("APP_BASE_URL", "").strip() or "http://localhost:8080").rstrip("/"),
        smtp=_smtp(env),
        whatsapp=_whatsapp(env),
        outbox_dir=Path(outbox_raw) if outbox_raw else None,
        delivery=load_delivery(env),
    )


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    host = env.get("SMTP_HOST", "").strip()
    if not host:
        return None
    security = env.get("SMTP_SECURITY", "").strip().lower() or "starttls"
    if security not in SMTP_SECURITY_VALUES:
        raise ConfigError(
            f"SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY_VALUES)}, got {security!r}."
        )
    default_port = {"none": 25, "starttls": 587, "ssl": 465}[security]
    port = _int(env, "SMTP_PORT", default_port, minimum=1)
    sender = env.get("SMTP_FROM", "").strip()
    if not sender or "@" not in sender:
        raise ConfigError("SMTP_FROM must be set to the sender address when SMTP_HOST is set.")
    username = env.get("SMTP_USERNAME", "").strip() or None
    password = env.get("SMTP_PASSWORD") or None
    if bool(username) != bool(password):
        raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD must be set together.")
    return SmtpSettings(
        host=host,
        port=port,
        username=username,
        password=password,
        security=security,
        sender=sender,
        timeout=float(_int(env, "SMTP_TIMEOUT", 30, minimum=1)),
    )


def _whatsapp(env: Mapping[str, str]) -> WhatsAppSettings | None:
    names = ("WHATSAPP_API_URL", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_ACCESS_TOKEN")
    values = {n: env.get(n, "").strip() for n in names}
    given = [n for n in names if values[n]]
    if not given:
        return None
    missing = [n for n in names if not values[n]]
    if missing:
        raise ConfigError(f"{missing[0]} must be set when {given[0]} is set (WhatsApp delivery).")
    if not values["WHATSAPP_API_URL"].startswith(("http://", "https://")):
        raise ConfigError(
            "WHATSAPP_API_URL must be an http(s) URL such as https://graph.facebook.com/v21.0."
        )
    return WhatsAppSettings(
        api_url=values["WHATSAPP_API_URL"].rstrip("/"),
        phone_number_id=values["WHATSAPP_PHONE_NUMBER_ID"],
        access_token=values["WHATSAPP_ACCESS_TOKEN"],
        timeout=float(_int(env, "WHATSAPP_TIMEOUT", 15, minimum=1)),
    )


# ---------------------------------------------------------------- delivery
@dataclass(frozen=True)
class DeliverySettings:
    """How the outbox is sent (README, Notifications: delivery settings)."""

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
    quiet = env.get("GSTJOBS_QUIET_HOURS", "").strip().lower() or "21:00-08:00"
    window: tuple[time, time] | None = None
    if quiet not in ("off", "none"):
        try:
            start, end = (time.fromisoformat(part.strip()) for part in quiet.split("-"))
        except ValueError:
            raise ConfigError(
                f"GSTJOBS_QUIET_HOURS must be HH:MM-HH:MM (e.g. 21:00-08:00) or off, got {quiet!r}."
            ) from None
        window = (start, end)
    deadline = _int(env, "GSTJOBS_DELIVERY_DEADLINE", 50, minimum=1)
    if deadline > 3600:
        raise ConfigError(f"GSTJOBS_DELIVERY_DEADLINE must be at most 3600 (s), got {deadline}.")
    connections = {
        name: _int(env, name, 2, minimum=1)
        for name in ("GSTJOBS_SMTP_CONNECTIONS", "GSTJOBS_WHATSAPP_CONNECTIONS")
    }
    for name, value in connections.items():
        if value > 16:
            raise ConfigError(f"{name} must be at most 16, got {value}.")
    return DeliverySettings(
        run_deadline=float(deadline),
        send_budget=float(_int(env, "GSTJOBS_SEND_BUDGET", 60, minimum=0)),
        quiet_hours=window,
        smtp_connections=connections["GSTJOBS_SMTP_CONNECTIONS"],
        whatsapp_connections=connections["GSTJOBS_WHATSAPP_CONNECTIONS"],
        digest_items=_int(env, "GSTJOBS_DIGEST_ITEMS", 20, minimum=1),
    )
