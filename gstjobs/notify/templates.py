"""Rendering notifications from the Jinja2 templates shipped in ``notify/templates``.

Each template NAME has three files: ``NAME.subject.txt`` (one line), ``NAME.txt``
(the plain-text part) and ``NAME.html`` (the HTML part, autoescaped). Undefined
variables are errors (StrictUndefined): a payload that lacks what its template
needs fails loudly at delivery instead of sending a message with holes in it.

The context is the notification's payload, plus what delivery adds at send time:
the recipient's name and the firm's name (read from the database then, never stored
in the payload), the tenant's timezone, the moment of sending and the base of the
action links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError, pass_context
from jinja2.runtime import Context

from gstjobs.notify import practice

TEMPLATES = (
    "hearing_reminder",
    "deadline_digest",
    "task_overdue",
    "sla_violation",
    "deadline_approaching",
    "health_alert",
    "limitation_alert",
)

DIGEST = "rule_digest"
"""The one message that carries a person's pending rule notifications (notify.digest)."""
DIGESTED = ("task_overdue", "sla_violation", "deadline_approaching", "escalation")
"""Rule notifications: pending ones for the same person, practice and channel go out
as one DIGEST message when there are several."""

RESERVED = ("recipient_name", "firm_name", "timezone", "now", "base_url", "notification_id")


class RenderError(Exception):
    """A template could not be rendered from this payload."""


@dataclass(frozen=True)
class Envelope:
    """What delivery knows at send time, beyond the payload."""

    notification_id: int
    recipient_name: str
    firm_name: str
    timezone: str
    now: datetime
    base_url: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("gstjobs.notify", "templates"),
        autoescape=lambda name: bool(name and name.endswith(".html")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # compiled once per process: no stat() of the files per message
    )
    env.filters["when"] = _when
    env.filters["link"] = _link
    env.filters["plural"] = _plural
    env.filters["zone"] = _zone
    env.filters["elapsed"] = elapsed
    env.filters["as_roles"] = as_roles
    env.filters["dmy"] = dmy
    env.globals["hearing_brief"] = _hearing_brief
    return env


def render(template: str, payload: Mapping[str, Any], envelope: Envelope) -> Rendered:
    """Subject, text and HTML of one notification; RenderError when it cannot be built."""
    if template not in TEMPLATES and template != DIGEST:
        raise RenderError(f"unknown template {template!r}")
    context = {
        **payload,
        "recipient_name": envelope.recipient_name,
        "firm_name": envelope.firm_name,
        "timezone": envelope.timezone,
        "now": envelope.now.isoformat(),
        "base_url": envelope.base_url.rstrip("/"),
        "notification_id": envelope.notification_id,
    }
    env = environment()
    try:
        subject = env.get_template(f"{template}.subject.txt").render(context)
        text = env.get_template(f"{template}.txt").render(context)
        html = env.get_template(f"{template}.html").render(context)
    except (TemplateError, ValueError, KeyError, TypeError) as exc:
        raise RenderError(f"template {template}: {type(exc).__name__}: {exc}") from exc
    return Rendered(" ".join(subject.split()), text, html)


PARAMETER_LIMIT = 160
"""Characters of one WhatsApp body parameter, a list of items aside."""
ITEMS_LIMIT = 480
"""Characters of the digest's list of first items."""
DIGEST_FIRST_ITEMS = 3
PARAMETERS_BUDGET = 800
"""Meta approves a template body of at most 1,024 characters with its parameters filled
in; the parameters of any message stay within this, leaving the rest to the approved
text (docs/notifications.md)."""


def whatsapp_parameters(template: str, payload: Mapping[str, Any], envelope: Envelope) -> list[str]:
    """Body parameters of the pre-approved WhatsApp template of the same name.

    Each WhatsApp template is approved by Meta with numbered placeholders; these
    are the values for {{1}}, {{2}}, … in that order (see docs/notifications.md).
    Meta refuses a parameter with a newline, a tab or more than four consecutive
    spaces (error 132018), so each is flattened to one line, and each is bounded.
    """
    values = _whatsapp_values(template, payload, envelope)
    limits = [
        ITEMS_LIMIT if template == "deadline_digest" and n == 2 else PARAMETER_LIMIT
        for n in range(len(values))
    ]
    return [one_line(value, limit) for value, limit in zip(values, limits, strict=True)]


def one_line(value: str, limit: int = PARAMETER_LIMIT) -> str:
    """``value`` as a WhatsApp parameter: whitespace runs made one space, at most ``limit``
    characters (an ellipsis marks a cut), never empty."""
    flat = " ".join(str(value).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat or "-"


def _whatsapp_values(template: str, payload: Mapping[str, Any], envelope: Envelope) -> list[str]:
    context = {**payload, "timezone": envelope.timezone, "now": envelope.now.isoformat()}
    today = _today(context)
    firm = envelope.firm_name
    if template == "hearing_reminder":
        when = _format(str(payload["hearing_date"]), envelope.timezone, "dmy", today)
        court = ", ".join(x for x in (payload["court_name"], payload["court_city"]) if x)
        client = payload.get("client_name")
        matter = f"{client}, {payload['case_number']}" if client else payload["case_number"]
        return [matter, court, when, firm]
    if template == "deadline_digest":
        due, overdue = payload["items"], payload.get("overdue", [])
        total_overdue = int(payload.get("overdue_total", len(overdue)))
        first = [_digest_line(i, envelope.timezone, today) for i in [*overdue, *due]]
        shown = "; ".join(first[:DIGEST_FIRST_ITEMS])
        more = total_overdue + len(due) - min(len(first), DIGEST_FIRST_ITEMS)
        if more > 0:
            shown += f"; and {more} more"
        link = f"{envelope.base_url.rstrip('/')}/deadlines"
        return [str(total_overdue), str(len(due)), shown, link, firm]
    if template in ("task_overdue", "sla_violation", "deadline_approaching", DIGEST):
        subject = render(template, payload, envelope).subject
        return [subject, firm]
    if template == "health_alert":
        findings = len(payload["findings"]) + len(payload.get("matters", []))
        return [str(payload["level"]), str(findings), firm]
    if template == "limitation_alert":
        return [render(template, payload, envelope).subject, firm]
    raise RenderError(f"no WhatsApp template for {template!r}")


def _digest_line(item: Mapping[str, Any], timezone: str, today: date) -> str:
    """One digest item on one line: when, what, for whom (WhatsApp)."""
    if "days_overdue" in item:
        days = int(item["days_overdue"])
        when = "OVERDUE " + (f"{_plural(days, 'day')}" if days else "since today")
    else:
        when = _format(str(item["due"]), timezone, "relative", today)
    what = item["title"] if item["kind"] == "task" else f"Hearing at {item['title']}"
    whose = ", ".join(str(x) for x in (item.get("client"), item.get("case_number")) if x)
    return f"{when}: {what}" + (f" ({whose})" if whose else "")


# ---------------------------------------------------------------- filters
def _parse(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no offset")
    return moment


def _today(context: Mapping[str, Any] | Context) -> date:
    return _local_day(context["now"], context["timezone"])


@lru_cache(maxsize=64)
def _local_day(now: str, timezone: str) -> date:
    return _parse(now).astimezone(ZoneInfo(timezone)).date()


DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
"""English names whatever the process locale (strftime's %A follows LC_TIME)."""


def _clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


@lru_cache(maxsize=4096)
def _format(value: str, timezone: str, style: str, today: date) -> str:
    """Cached: a run formats the same hearing for its owner, its advocate, each channel."""
    local = _parse(value).astimezone(ZoneInfo(timezone))
    day = local.date()
    weekday, month = DAYS[local.weekday()], MONTHS[local.month - 1]
    short_date = f"{weekday[:3]} {day.day} {month[:3]} {local.year}"
    zone = local.tzname() or ""
    zone = f"UTC{zone}" if zone[:1] in "+-" else zone  # "+04": a zone without an abbreviation
    if style == "date":
        return short_date
    if style == "time":
        return f"{_clock(local)} {zone}".strip()
    if style == "datetime":
        return f"{weekday} {day.day} {month} {local.year}, {_clock(local)} {zone}".strip()
    if style == "day":
        delta = (day - today).days
        return {0: "today", 1: "tomorrow"}.get(delta, f"on {short_date}")
    if style == "dmy":
        return f"{weekday[:3]}, {day:%d-%m-%Y}, {_clock(local)} {zone}".strip()
    if style == "day_dmy":
        delta = (day - today).days
        lead = {0: "today, ", 1: "tomorrow, "}.get(delta, "on ")
        return f"{lead}{weekday[:3]}, {day:%d-%m-%Y}, {_clock(local)} {zone}".strip()
    if style == "dmy_date":
        return f"{weekday[:3]}, {day:%d-%m-%Y}"
    if style == "relative":
        delta = (day - today).days
        label = {0: "Today", 1: "Tomorrow", -1: "Yesterday"}.get(
            delta, f"{weekday[:3]}, {day:%d-%m-%Y}"
        )
        return f"{label}, {_clock(local)} {zone}".strip()
    raise ValueError(f"unknown date style {style!r}")


@pass_context
def _when(context: Context, value: str | datetime, style: str = "datetime") -> str:
    """A timestamp in the tenant's timezone: date, time, datetime or relative."""
    text = value.isoformat() if isinstance(value, datetime) else value
    return _format(text, context["timezone"], style, _today(context))


@pass_context
def _hearing_brief(context: Context) -> practice.Brief:
    """The matter's lines and checklist of a hearing reminder (notify.practice)."""
    return practice.brief(context.get_all())


@pass_context
def _zone(context: Context, timezone: str) -> str:
    """The practice's zone as its readers know it (IST), as of the moment of sending."""
    return zone_name(timezone, context["now"])


@lru_cache(maxsize=64)
def zone_name(timezone: str, now: str) -> str:
    name = _parse(now).astimezone(ZoneInfo(timezone)).tzname() or timezone
    # Zones without an abbreviation report an offset ("+04"): say it as one.
    return f"UTC{name}" if name[:1] in "+-" else name


@pass_context
def _link(context: Context, path: str, **query: str) -> str:
    """An action link under APP_BASE_URL."""
    url = f"{context['base_url']}/{path.lstrip('/')}"
    if query:
        url += "?" + "&".join(f"{k}={quote(str(v))}" for k, v in query.items())
    return url


def dmy(value: str | date) -> str:
    """A calendar date as a practitioner writes it: ``Tue, 01-12-2026``."""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{DAYS[day.weekday()][:3]}, {day:%d-%m-%Y}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


ELAPSED_DAYS_AFTER = 48
"""Hours beyond which an elapsed time is said in days ("83 days", not "1995.9 hours")."""


def elapsed(hours: object) -> str:
    """Hours open as a reader takes them in: hours up to two days, whole days after."""
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        return f"{hours} hours"
    if hours > ELAPSED_DAYS_AFTER:
        return _plural(int(hours // 24), "day")
    return f"{hours:g} hours"


_MATTER_ROLES = {"matter owner": "owner"}
"""Roles said after "the matter's" (``matter owner`` would read "the matter's matter owner")."""


def as_roles(roles: list[str]) -> str:
    """Why someone receives a message: "the matter's owner and as a partner of the firm"."""
    mine = sorted(
        (_MATTER_ROLES.get(r, r) for r in roles if r != "partner"),
        key=lambda r: r != "owner",  # the owner first, the rest as given
    )
    parts = [f"the matter's {' and '.join(dict.fromkeys(mine))}"] if mine else []
    if "partner" in roles:
        parts.append("a partner of the firm")
    return " and as ".join(parts)
