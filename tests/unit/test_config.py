"""Settings: every malformed value stops with one sentence naming the setting."""

from __future__ import annotations

import pytest

from gstjobs.config import load_settings
from gstjobs.db import mask
from gstjobs.errors import ConfigError


def test_defaults() -> None:
    s = load_settings({})
    assert s.database_url is None
    assert s.timezone == "Asia/Kolkata"
    assert s.overdue_grace_minutes == 15
    assert s.notify_cap == 100
    assert s.smtp is None and s.whatsapp is None


def test_plain_postgresql_url_becomes_psycopg_and_masks_password() -> None:
    s = load_settings({"DATABASE_URL": "postgresql://app:s3cr3t@db.internal:6432/lit"})
    assert s.database_url is not None
    assert s.database_url.drivername == "postgresql+psycopg"
    shown = mask(s.database_url)
    assert shown == "postgresql://app:***@db.internal:6432/lit"
    assert "s3cr3t" not in shown


def test_password_in_the_query_string_is_masked_too() -> None:
    s = load_settings(
        {"DATABASE_URL": "postgresql://app@db/lit?password=topsecret&sslmode=require"}
    )
    assert s.database_url is not None
    shown = mask(s.database_url)
    assert "topsecret" not in shown and "sslmode=require" in shown


def test_command_line_url_wins_over_environment() -> None:
    s = load_settings({"DATABASE_URL": "postgresql://a@h/one"}, database_url="postgresql://b@h/two")
    assert s.database_url is not None and s.database_url.database == "two"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u@h"}, "names no database"),
        ({"DATABASE_URL": "::::"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u:pw@h:abc/x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u:pw@h:70000/x"}, "port"),
        ({"GSTJOBS_TIMEZONE": "India/Delhi"}, "GSTJOBS_TIMEZONE"),
        ({"GSTJOBS_CONNECT_TIMEOUT": "0"}, "between 1 and 300"),
        # Values that once passed and failed later, or never worked at all (issue 9).
        ({"GSTJOBS_OVERDUE_GRACE_MINUTES": "1000000000000"}, "GSTJOBS_OVERDUE_GRACE_MINUTES"),
        ({"GSTJOBS_HEALTH_WINDOW_HOURS": "100000000000"}, "GSTJOBS_HEALTH_WINDOW_HOURS"),
        ({"SMTP_HOST": "mail", "SMTP_FROM": "a@b.in", "SMTP_TIMEOUT": "1e12"}, "SMTP_TIMEOUT"),
        ({"SMTP_HOST": "mail", "SMTP_FROM": "a@b.in", "SMTP_PORT": "99999"}, "SMTP_PORT"),
        ({"SMTP_HOST": "mail", "SMTP_FROM": "notanemail"}, "email address"),
        ({"SMTP_HOST": "mail", "SMTP_FROM": "a@b.in\nBcc: x@y.in"}, "email address"),
        ({"SMTP_HOST": "mail", "SMTP_FROM": "Firm <a@b.in>\r\nX-Evil: 1"}, "email address"),
        ({"GSTJOBS_TIMEZONE": "A/" + "b" * 298}, "GSTJOBS_TIMEZONE"),
        ({"GSTJOBS_TIMEZONE": "IST"}, "Asia/Kolkata"),
        ({"GSTJOBS_TIMEZONE": "+05:30"}, "Asia/Kolkata"),
        ({"DATABASE_URL": "postgresql://u@h/db?bogus=1"}, "bogus"),
        ({"APP_BASE_URL": "notaurl"}, "APP_BASE_URL"),
        ({"APP_BASE_URL": "http://exa mple.in"}, "APP_BASE_URL"),
        ({"APP_BASE_URL": "http://exa_mple.in/x"}, "APP_BASE_URL"),
        ({"WHATSAPP_API_URL": "https://graph .facebook.com/v21.0"}, "WHATSAPP_API_URL"),
        ({"GSTJOBS_NETWORK_TIMEOUT": "nan"}, "GSTJOBS_NETWORK_TIMEOUT"),
        ({"GSTJOBS_DEADLINE_SLA_CHECK": "0"}, "GSTJOBS_DEADLINE_SLA_CHECK"),
        ({"GSTJOBS_LOCK_TIMEOUT": "-1"}, "GSTJOBS_LOCK_TIMEOUT"),
        ({"GSTJOBS_NOTIFY_CAP": "lots"}, "GSTJOBS_NOTIFY_CAP"),
        ({"SMTP_HOST": "mail", "SMTP_FROM": "x@y", "SMTP_SECURITY": "tls"}, "SMTP_SECURITY"),
        ({"SMTP_HOST": "mail"}, "SMTP_FROM"),
        ({"SMTP_HOST": "mail", "SMTP_FROM": "x@y", "SMTP_USERNAME": "u"}, "SMTP_PASSWORD"),
        ({"WHATSAPP_ACCESS_TOKEN": "t"}, "WHATSAPP_API_URL"),
        (
            {
                "WHATSAPP_API_URL": "ftp://x",
                "WHATSAPP_PHONE_NUMBER_ID": "1",
                "WHATSAPP_ACCESS_TOKEN": "t",
            },
            "http",
        ),
    ],
)
def test_malformed_settings(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 78


def test_smtp_port_follows_security() -> None:
    base = {"SMTP_HOST": "mail", "SMTP_FROM": "alerts@firm.in"}
    smtp = load_settings({**base, "SMTP_SECURITY": "ssl"}).smtp
    assert smtp is not None and smtp.port == 465
    smtp = load_settings({**base, "SMTP_PORT": "2525", "SMTP_SECURITY": "none"}).smtp
    assert smtp is not None and smtp.port == 2525 and smtp.security == "none"


def test_secrets_do_not_appear_in_settings_repr() -> None:
    s = load_settings({"DATABASE_URL": "postgresql://u:topsecret@h/db"})
    assert "topsecret" not in repr(s.database_url)


def test_deadlines_default_to_a_multiple_of_the_max_and_can_be_set_per_job() -> None:
    s = load_settings({"GSTJOBS_DEADLINE_HEARING_REMINDERS": "45"})
    assert s.deadline_for("sla-check", 15) == 150
    assert s.deadline_for("hearing-reminders", 30) == 45
    assert load_settings({"GSTJOBS_DEADLINE_FACTOR": "3"}).deadline_for("sla-check", 15) == 45


def test_known_libpq_options_are_accepted() -> None:
    s = load_settings(
        {"DATABASE_URL": "postgresql://u@h/db?sslmode=require&target_session_attrs=any"}
    )
    assert s.database_url is not None and s.database_url.query["sslmode"] == "require"
