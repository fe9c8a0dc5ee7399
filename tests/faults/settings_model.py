"""Generated settings for the settings fuzz: every setting of the README's configuration
table (and config.py), each value with the verdict the contract gives it.

Verdicts: ``valid`` (the command must work), ``invalid`` (it must exit 78 naming the
setting), ``either`` (working or a 78 naming it are both fine), ``down`` (a well-formed
DATABASE_URL where nothing listens: exit 69). "Invalid" follows issue 9: a type, a range
(ports 1-65535, timeouts and windows within sane bounds: 10^9 and more is never sane),
e-mail and URL syntax, IANA time-zone names, no URL query option psycopg does not know.

SMTP and WhatsApp point at stand-ins on loopback (the ``base``), so their settings are
in use; hosts are only ever loopback names (nothing here resolves a name over DNS).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st
from sqlalchemy.engine import URL, make_url

VALID, INVALID, EITHER, DOWN = "valid", "invalid", "either", "down"
CHANNEL_DOWN = "channel down"
"""A well-formed provider setting where nothing answers: commands work, except that a
delivery run ends failed (exit 1) with one line naming the channel (issue 8)."""


@dataclass(frozen=True)
class Fault:
    """Some settings and what the contract says of them."""

    env: tuple[tuple[str, str], ...]
    verdict: str
    names: tuple[str, ...]
    """What the one error line may name (the setting; for a file fault, the file)."""

    def __repr__(self) -> str:
        if not self.env:
            return f"Fault(the file {self.names[0]} -> {self.verdict})"
        shown = ", ".join(
            f"{k}={v!r}" if len(v) <= 60 else f"{k}={v[:20]!r}...<{len(v)} chars>"
            for k, v in self.env
        )
        return f"Fault({shown} -> {self.verdict})"


def fault(name: str, value: str, verdict: str) -> Fault:
    return Fault(((name, value),), verdict, (name,))


@dataclass(frozen=True)
class Stage:
    database_url: str
    smtp_port: int
    whatsapp_url: str


INT_SETTINGS = {
    # name: (minimum, the largest value that must still work): the README's ranges
    "GSTJOBS_CONNECT_TIMEOUT": (1, 300),
    "GSTJOBS_OVERDUE_GRACE_MINUTES": (0, 1440),
    "GSTJOBS_HEALTH_WINDOW_HOURS": (1, 24 * 90),
    "GSTJOBS_NOTIFY_CAP": (1, 100_000),
    "GSTJOBS_NOTIFY_MAX_ATTEMPTS": (1, 100),
    "GSTJOBS_SMTP_CONNECTIONS": (1, 16),
    "GSTJOBS_WHATSAPP_CONNECTIONS": (1, 16),
    "GSTJOBS_DIGEST_ITEMS": (1, 500),
}
NUMBER_SETTINGS = {
    # seconds, where a fraction is fine: (minimum, the largest value that must still work)
    "SMTP_TIMEOUT": (1, 300),
    "WHATSAPP_TIMEOUT": (1, 300),
    "GSTJOBS_NETWORK_TIMEOUT": (5, 3600),
    "GSTJOBS_DEADLINE_FACTOR": (1, 100),
    "GSTJOBS_DEADLINE_SLA_CHECK": (1, 86400),
    "GSTJOBS_LOCK_TIMEOUT": (1, 3600),
    "GSTJOBS_DELIVERY_DEADLINE": (1, 3600),
    "GSTJOBS_SEND_BUDGET": (0, 3600),
}
HUGE = ("1000000000", "1000000000000", "100000000000", "99999999999999999999999")


def _whole_numbers(name: str, low: int, sane: int) -> st.SearchStrategy[Fault]:
    return st.one_of(
        st.integers(low, sane).map(lambda n: fault(name, str(n), VALID)),
        st.sampled_from([str(low), str(sane), ""]).map(lambda v: fault(name, v, VALID)),
        st.integers(sane + 1, 10**9 - 1).map(lambda n: fault(name, str(n), EITHER)),
        st.sampled_from([str(low - 1), "-1", *HUGE, "abc", "1.5", "1e3", "0x10", "NaN", "ten"]).map(
            lambda v: fault(name, v, INVALID)
        ),
        st.sampled_from([" 5 ", "+5", "1_000", "５", "٣"]).map(lambda v: fault(name, v, EITHER)),
    )


def _numbers(name: str, low: int, sane: int) -> st.SearchStrategy[Fault]:
    return st.one_of(
        st.integers(low, sane).map(lambda n: fault(name, str(n), VALID)),
        st.sampled_from([str(low), str(sane), f"{low}.5", ""]).map(lambda v: fault(name, v, VALID)),
        st.sampled_from(
            [str(low - 1), "-1", *HUGE, "abc", "NaN", "inf", "-inf", "ten", "1e999"]
        ).map(lambda v: fault(name, v, INVALID)),
    )


QUIET_HOURS = st.one_of(
    st.sampled_from(["21:00-08:00", "off", "none", "22:30-07:15", ""]).map(
        lambda v: fault("GSTJOBS_QUIET_HOURS", v, VALID)
    ),
    st.sampled_from(["9pm-8am", "21:00", "25:00-08:00", "21:00-08:00-09:00", "always"]).map(
        lambda v: fault("GSTJOBS_QUIET_HOURS", v, INVALID)
    ),
)


def _ports() -> st.SearchStrategy[Fault]:
    return st.one_of(
        # well-formed, but nothing listens there: the email channel is unusable
        st.sampled_from(["1", "65535"]).map(lambda v: fault("SMTP_PORT", v, CHANNEL_DOWN)),
        st.sampled_from(["0", "65536", "99999", "-1", "abc", "1000000000000"]).map(
            lambda v: fault("SMTP_PORT", v, INVALID)
        ),
    )


TIMEZONES = st.one_of(
    st.sampled_from(
        [
            "Asia/Kolkata",
            "UTC",
            "Europe/London",
            "America/New_York",
            "Asia/Calcutta",
            "Pacific/Kiritimati",
            "Etc/GMT+12",
            "",
        ]
    ).map(lambda v: fault("GSTJOBS_TIMEZONE", v, VALID)),
    st.sampled_from(
        [
            "IST",
            "+05:30",
            "UTC+05:30",
            "GMT+5:30",
            "A" * 300,
            "Asia/" + "K" * 300,
            "Mars/Olympus",
            "../../etc/passwd",
            "Asia/Kolkata/",
            "/etc/localtime",
            "Asia\\Kolkata",
        ]
    ).map(lambda v: fault("GSTJOBS_TIMEZONE", v, INVALID)),
    st.sampled_from(
        ["EST", "localtime", "Factory", "posixrules", "right/UTC", "asia/kolkata", " UTC "]
    ).map(lambda v: fault("GSTJOBS_TIMEZONE", v, EITHER)),
)

BASE_URLS = st.one_of(
    st.sampled_from(
        ["https://app.example.in", "http://localhost:8080", "https://app.example.in/gst/", ""]
    ).map(lambda v: fault("APP_BASE_URL", v, VALID)),
    st.sampled_from(
        [
            "notaurl",
            "ftp://app.example.in",
            "http://",
            "javascript:alert(1)",
            "app.example.in",
            "http://exa mple.in",
            "https://app.example.in\n<script>",
        ]
    ).map(lambda v: fault("APP_BASE_URL", v, INVALID)),
    st.sampled_from(
        [
            "HTTPS://APP.EXAMPLE.IN",
            "http://[::1]:8080",
            "https://例え.jp",
            "https://a.in/" + "x" * 3000,
        ]
    ).map(lambda v: fault("APP_BASE_URL", v, EITHER)),
)

SENDERS = st.one_of(
    st.just(fault("SMTP_FROM", "reminders@practice.example", VALID)),
    st.sampled_from(
        ["notanemail", "a@", "@b", "a@b@c", "", "reminders@practice.example\nBcc: x@y.example"]
    ).map(lambda v: fault("SMTP_FROM", v, INVALID)),
    st.sampled_from(["Reminders <reminders@practice.example>", "ré@practice.example", "a@b"]).map(
        lambda v: fault("SMTP_FROM", v, EITHER)
    ),
)

SMTP_OTHERS = st.one_of(
    st.sampled_from(["127.0.0.1", "localhost", ""]).map(lambda v: fault("SMTP_HOST", v, VALID)),
    st.just(fault("SMTP_HOST", " 127.0.0.1 ", EITHER)),
    # a valid host, but the stand-in listens on IPv4 loopback only: nothing answers there
    st.just(fault("SMTP_HOST", "::1", CHANNEL_DOWN)),
    st.just(fault("SMTP_SECURITY", "none", VALID)),
    # the stand-in speaks plain SMTP: TLS cannot be negotiated, the channel is unusable
    st.sampled_from(["starttls", "ssl", ""]).map(lambda v: fault("SMTP_SECURITY", v, CHANNEL_DOWN)),
    st.sampled_from(["tls13", "yes", "true", "ssl3"]).map(
        lambda v: fault("SMTP_SECURITY", v, INVALID)
    ),
    st.just(fault("SMTP_SECURITY", " none ", EITHER)),
    st.just(fault("SMTP_SECURITY", "SSL", CHANNEL_DOWN)),
    st.just(
        # set together they are valid, but the stand-in offers no AUTH: channel down
        Fault(
            (("SMTP_USERNAME", "mailer"), ("SMTP_PASSWORD", "s3cret")),
            CHANNEL_DOWN,
            ("SMTP_USERNAME",),
        )
    ),
    st.sampled_from(["SMTP_USERNAME", "SMTP_PASSWORD"]).map(
        lambda n: Fault(((n, "alone"),), INVALID, ("SMTP_USERNAME", "SMTP_PASSWORD"))
    ),
)


def _whatsapp(stage: Stage) -> st.SearchStrategy[Fault]:
    return st.one_of(
        st.just(fault("WHATSAPP_API_URL", stage.whatsapp_url, VALID)),
        st.just(fault("WHATSAPP_API_URL", "https://127.0.0.1:1/v21.0", CHANNEL_DOWN)),
        st.sampled_from(
            [
                "notaurl",
                "ftp://127.0.0.1/v21.0",
                "http://",
                "http://127.0.0.1:99999/v21.0",
                "http://[::1",
            ]
        ).map(lambda v: fault("WHATSAPP_API_URL", v, INVALID)),
        st.sampled_from(["WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_ACCESS_TOKEN"]).map(
            lambda n: fault(n, "", INVALID)
        ),
        st.sampled_from(["../../me", "a b", "é" * 40]).map(
            lambda v: fault("WHATSAPP_PHONE_NUMBER_ID", v, EITHER)
        ),
        st.sampled_from(["tok\nen", "tökén€", "x" * 5000]).map(
            lambda v: fault("WHATSAPP_ACCESS_TOKEN", v, EITHER)
        ),
    )


def _directories() -> st.SearchStrategy[Fault]:
    names = ("GSTJOBS_DATA_DIR", "GSTJOBS_OUTBOX_DIR")
    return st.sampled_from(names).flatmap(
        lambda n: st.one_of(
            st.sampled_from(["alt-dir", "nested/alt-dir"]).map(lambda v: fault(n, v, VALID)),
            st.sampled_from(["afile/below", "afile", "/dev/null/outbox", "d" * 300, "ü-dir"]).map(
                lambda v: fault(n, v, EITHER)
            ),
        )
    )


def _with_query(url: URL, **query: str) -> str:
    return url.update_query_dict(query).render_as_string(hide_password=False)


def _database_urls(stage: Stage) -> st.SearchStrategy[Fault]:
    url = make_url(stage.database_url)
    valid = [
        stage.database_url,
        _with_query(url, application_name="fuzz"),
        _with_query(url, connect_timeout="5"),
        _with_query(url, options="-c statement_timeout=60000"),
    ]
    invalid = [
        _with_query(url, bogus="1"),
        _with_query(url, sslmode="bogus"),
        url.set(port=0).render_as_string(hide_password=False),
        url.set(port=65536).render_as_string(hide_password=False),
        "postgresql://127.0.0.1:99999/gstjobs",
        "mysql://root@localhost/db",
        "not a url",
        "postgresql://",
        "postgresql://127.0.0.1:5432/",
    ]
    either = [_with_query(url, connect_timeout="abc")]  # gstjobs sets connect_timeout itself
    return st.one_of(
        st.sampled_from(valid).map(lambda v: fault("DATABASE_URL", v, VALID)),
        st.sampled_from(either).map(lambda v: fault("DATABASE_URL", v, EITHER)),
        st.sampled_from(invalid).map(lambda v: fault("DATABASE_URL", v, INVALID)),
        st.just(fault("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/gstjobs", DOWN)),
        st.just(fault("DATABASE_URL", "postgresql://ü:ü@127.0.0.1:1/ü", DOWN)),
    )


def faults(stage: Stage) -> st.SearchStrategy[Fault]:
    """One fault, for any one setting of the table."""
    return st.one_of(
        _database_urls(stage),
        TIMEZONES,
        *[_whole_numbers(n, low, sane) for n, (low, sane) in INT_SETTINGS.items()],
        *[_numbers(n, low, sane) for n, (low, sane) in NUMBER_SETTINGS.items()],
        QUIET_HOURS,
        _ports(),
        BASE_URLS,
        SENDERS,
        SMTP_OTHERS,
        _whatsapp(stage),
        _directories(),
    )


MALFORMED_LINES = (
    "this is not a setting",
    "=15",
    'GSTJOBS_TIMEZONE="Asia/Kolkata',
    "GSTJOBS_NOTIFY_CAP='100",
)
"""Lines python-dotenv cannot parse (it skips them with a warning)."""

COMMANDS = (
    ("status",),
    ("run", "sla-check"),
    ("run", "health-check"),
    ("run", "deliver"),
    ("notify", "send"),
    ("health-report",),
)
