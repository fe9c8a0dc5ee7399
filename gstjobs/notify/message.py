"""What moves through delivery: a claim on outbox rows, and the message built from it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from gstjobs.notify.classify import DeliveryError, Kind

__all__ = ["Claim", "DeliveryError", "Kind", "Prepared", "Transport", "scrub"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")
ERROR_LIMIT = 500


@dataclass(frozen=True)
class Claim:
    """Outbox rows one sender holds: a single notification or the items of a digest."""

    token: UUID
    """The claim token on the rows; only its holder records their outcome."""
    ids: tuple[int, ...]
    tenant_id: UUID
    channel: str
    """The outbox channel: email, whatsapp or console."""
    lease_end: float
    """``time.monotonic()`` by which the rows must be sent or released."""

    @property
    def first(self) -> int:
        return self.ids[0]


@dataclass(frozen=True)
class Prepared:
    """A message built for its transport: MIME bytes, a JSON request body or a file.

    Built in the composing thread, so that a transport's worker only does I/O.
    """

    claim: Claim
    template: str
    message_id: str
    """Stable across retries of the same rows (docs/notifications.md, the crash window)."""
    recipient: str
    """SMTP envelope recipient or phone number; kept out of every error text."""
    data: bytes
    file_name: str
    """The name the file channel writes it under, unique within a database."""


class Transport(Protocol):
    """Sends a Prepared message; returns the provider's id (None: accepted without one).

    Raises DeliveryError, whose ``kind`` says what the failure means (``classify``).
    ``deadline`` is a ``time.monotonic()`` moment the whole send must finish by.
    """

    name: str

    def send(self, message: Prepared, deadline: float) -> str | None: ...

    def close(self) -> None: ...


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """An error text fit for the outbox and ``notify list``: no addresses, phones or secrets."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _EMAIL.sub("<address>", text)
    text = _PHONE.sub("<number>", text)
    text = " ".join(text.split())
    return text[:ERROR_LIMIT]
