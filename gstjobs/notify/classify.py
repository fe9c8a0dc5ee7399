"""What a provider's answer means for the message and for the channel.

Every failed send is one of four kinds (docs/notifications.md, failures by kind):

- ``UNUSABLE``: the channel cannot send anything (connection refused or timed out,
  login or token rejected). The channel stops for the run, no attempt is spent, the
  run fails naming the channel.
- ``RATE_LIMITED``: the provider asks us to slow down. The channel pauses until the
  given moment, no attempt is spent.
- ``PERMANENT``: this message can never be delivered as it is; failed at once.
- ``TRANSIENT``: anything else; retried with exponential backoff.

A success without the provider's message id is a fifth case, ``Accepted(None)``:
recorded as sent, never resent. The tables below cite the providers' documented
codes: SMTP reply codes of RFC 5321 (4.2.2, 4.2.3, 4.5.3.2) and RFC 4954 (AUTH), and
the WhatsApp Cloud API's error codes (Meta, "WhatsApp error codes").
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum


class Kind(Enum):
    UNUSABLE = "unusable"
    RATE_LIMITED = "rate limited"
    PERMANENT = "permanent"
    TRANSIENT = "transient"


class DeliveryError(Exception):
    """A message was not delivered; ``kind`` says what that means (see the module)."""

    def __init__(
        self,
        message: str,
        kind: Kind = Kind.TRANSIENT,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = Kind.PERMANENT if permanent else kind
        self.retry_after = retry_after
        """RATE_LIMITED: seconds until the provider accepts messages again."""
        self.timed_out = timed_out
        """The send outlived its deadline: the provider is too slow for this run."""

    @property
    def permanent(self) -> bool:
        return self.kind is Kind.PERMANENT


SMTP_RATE_LIMIT_PAUSE = 300.0
"""SMTP gives no Retry-After: a 451/452 pauses the channel this long."""
WHATSAPP_RATE_LIMIT_PAUSE = 60.0
"""A WhatsApp rate limit without Retry-After pauses the channel this long."""
MAX_PAUSE = 6 * 3600.0


# ---------------------------------------------------------------- SMTP (RFC 5321)
def smtp_kind(code: int, stage: str) -> Kind:
    """The kind of an SMTP reply ``code`` to the command of ``stage``.

    ``stage``: ``connect`` (greeting, EHLO, STARTTLS), ``auth``, ``mail``, ``rcpt`` or
    ``data`` (DATA and the end of the message).
    """
    if code == 421 or stage in ("connect", "auth"):
        # 421: the service is closing the channel (RFC 5321 3.8); a refused greeting,
        # EHLO or STARTTLS, and 530/535/534/538/454 on AUTH (RFC 4954 6), leave nothing
        # to send over.
        return Kind.UNUSABLE
    if code in (451, 452):
        # 451 local error / 452 insufficient storage: what servers answer when they
        # throttle a sender ("451 4.7.1 rate limited"); pause rather than spend attempts.
        return Kind.RATE_LIMITED
    if 500 <= code < 600:
        # 5xx on MAIL FROM: the sender address is refused, so every message would be.
        return Kind.UNUSABLE if stage == "mail" else Kind.PERMANENT
    return Kind.TRANSIENT  # 450 mailbox busy, and anything unexpected


# ---------------------------------------------------------------- WhatsApp Cloud API
WHATSAPP_UNUSABLE = frozenset({0, 10, 190, 368, 131005, 131031})
"""0 AuthException, 190 access token expired/invalid (HTTP 401); 10 permission denied,
131005 access denied (403); 368 temporarily blocked for policy violations, 131031
account locked. Also every code 200-299 (API permission) and any HTTP 401/403."""
WHATSAPP_RATE_LIMITED = frozenset({4, 80007, 130429, 131048})
"""4 API too many calls, 80007 WhatsApp Business Account rate limit, 130429 Cloud API
throughput reached, 131048 spam rate limit. Also any HTTP 429."""
WHATSAPP_PERMANENT = frozenset(
    {100, 131008, 131009, 131021, 131026, 131047, 131051, 132000, 132001, 132005, 132007}
    | {132012, 132015, 132016}
)
"""100 invalid parameter, 131008 required parameter missing, 131009 parameter value not
valid, 131021 recipient cannot be sender, 131026 message undeliverable, 131047
re-engagement message, 131051 unsupported message type, 132000 number of template
parameters does not match, 132001 template does not exist, 132005 translated text too
long, 132007 template format character policy violated, 132012 parameter format
mismatch, 132015 template paused, 132016 template disabled."""


def whatsapp_kind(status: int, code: int | None) -> Kind:
    """The kind of an HTTP error ``status`` with the Graph API error ``code`` (if any)."""
    if code is not None:
        if code in WHATSAPP_UNUSABLE or 200 <= code <= 299:
            return Kind.UNUSABLE
        if code in WHATSAPP_RATE_LIMITED:
            return Kind.RATE_LIMITED
        if code in WHATSAPP_PERMANENT:
            return Kind.PERMANENT
    if status in (401, 403) or 300 <= status < 400:
        # A redirect means WHATSAPP_API_URL is wrong: no message would get through.
        return Kind.UNUSABLE
    if status == 429:
        return Kind.RATE_LIMITED
    return Kind.TRANSIENT  # 5xx, 131000 something went wrong, 131056 pair rate limit, …


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds, or an HTTP-date measured from
    ``now`` (the answer's own Date header, where it has one; RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_PAUSE)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - now).total_seconds()
    return min(max(seconds, 0.0), MAX_PAUSE)
