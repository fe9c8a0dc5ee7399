"""What a channel is handed, and how it says it failed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from gstjobs.notify.templates import Envelope, Rendered

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")
ERROR_LIMIT = 500


class DeliveryError(Exception):
    """A message was not delivered. ``permanent``: retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Recipient:
    user_id: UUID
    name: str
    email: str | None
    phone: str | None
    whatsapp_opt_in: bool


@dataclass(frozen=True)
class Outgoing:
    """One claimed notification, rendered and ready for its channel."""

    id: int
    tenant_id: UUID
    channel: str
    template: str
    payload: dict[str, Any]
    recipient: Recipient
    envelope: Envelope
    rendered: Rendered

    @property
    def message_id(self) -> str:
        """Stable across retries, so a duplicate after a crash is recognisable."""
        return f"<notification-{self.id}.{self.tenant_id}@gstjobs>"


class Channel(Protocol):
    """A transport. ``send`` returns the provider's message id or raises DeliveryError."""

    name: str

    def send(self, message: Outgoing) -> str: ...

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
