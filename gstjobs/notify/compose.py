"""From claimed outbox rows to messages their transports can send.

Runs in the delivering thread, so the transports' workers only do I/O: rows are
grouped into messages (``digest``), rendered once per message (``templates``,
compiled once per process) and built once per message: the MIME bytes of an email
(``mime``), the JSON body of a WhatsApp request, or the file the file channel
writes. A row that can never be sent as it is (its recipient is gone or has no
address, did not opt in to WhatsApp, its payload does not fit its template) is
rejected here: failed at once, as the provider would refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from gstjobs.config import Settings
from gstjobs.notify import digest, mime
from gstjobs.notify.message import Claim, Prepared
from gstjobs.notify.templates import Envelope, RenderError, render, whatsapp_parameters
from gstjobs.notify.whatsapp import request_body

DEFAULT_SENDER = "gstjobs@localhost"


@dataclass(frozen=True)
class Rejected:
    """Rows failed at once: retrying cannot help."""

    claim: Claim
    error: str


@dataclass(frozen=True)
class Composer:
    settings: Settings
    routes: dict[str, str]
    """Outbox channel -> transport: ``smtp``, ``whatsapp`` or ``file``."""

    def compose(
        self, rows: Sequence[Any], token: UUID, lease_end: float, now: datetime
    ) -> Iterator[Prepared | Rejected]:
        """The messages of one claim (rows of one practice), most urgent first, built one
        at a time so that the first can be on its way while the next is built."""
        for group in digest.group(rows):
            first = group[0]
            claim = Claim(
                token, tuple(r.id for r in group), first.tenant_id, first.channel, lease_end
            )
            try:
                yield self._build(claim, group, now)
            except _Refused as exc:
                yield Rejected(claim, str(exc))

    def _build(self, claim: Claim, group: Sequence[Any], now: datetime) -> Prepared:
        first = group[0]
        if not first.active:
            raise _Refused("the recipient is not an active user of this tenant")
        template = digest.template_of(group)
        payload = (
            first.payload
            if len(group) == 1
            else digest.payload(group, self.settings.delivery.digest_items)
        )
        envelope = Envelope(
            notification_id=claim.first,
            recipient_name=first.full_name,
            firm_name=first.firm_name,
            timezone=first.timezone,
            now=now,
            base_url=self.settings.app_base_url,
        )
        single = len(group) == 1
        message_id = (
            f"<notification-{claim.first}.{claim.tenant_id}@gstjobs>"
            if single
            else f"<digest-{claim.first}-{claim.ids[-1]}-{len(group)}.{claim.tenant_id}@gstjobs>"
        )
        stem = f"notification-{claim.first}" if single else f"digest-{claim.first}-{len(group)}"
        if first.channel == "whatsapp":
            phone, values = self._whatsapp(first, template, payload, envelope)
            if self.routes["whatsapp"] == "whatsapp":
                data = json.dumps(request_body(template, phone, values)).encode()
            else:
                shown = {"to": phone, "template": template, "parameters": values}
                data = json.dumps(shown, ensure_ascii=False, indent=2).encode()
            return Prepared(claim, template, message_id, phone, data, f"{stem}.json")
        try:
            rendered = render(template, payload, envelope)
        except RenderError as exc:
            raise _Refused(str(exc)) from exc
        extra = {"X-Gstjobs-Notification": str(claim.first), "X-Gstjobs-Template": template}
        if not single:
            extra["X-Gstjobs-Digest"] = f"{len(group)} notifications"
        try:
            mail = mime.build(
                sender=self.settings.smtp.sender if self.settings.smtp else DEFAULT_SENDER,
                name=first.full_name,
                address=first.email,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                message_id=message_id,
                date=now,
                extra=extra,
            )
        except mime.AddressError as exc:
            problem = "has no email address" if not first.email else "email address is malformed"
            raise _Refused(f"the recipient {problem}") from exc
        return Prepared(claim, template, message_id, mail.recipient, mail.data, f"{stem}.eml")

    def _whatsapp(
        self, row: Any, template: str, payload: dict[str, Any], envelope: Envelope
    ) -> tuple[str, list[str]]:
        # The file channel refuses what the API would, so a row fails the same way
        # whether or not WhatsApp is configured.
        if not row.whatsapp_opt_in:
            raise _Refused("the recipient has not opted in to WhatsApp")
        if not row.phone:
            raise _Refused("the recipient has no phone number")
        try:
            values = whatsapp_parameters(template, payload, envelope)
        except (RenderError, KeyError, ValueError, TypeError) as exc:
            raise _Refused(f"WhatsApp parameters: {type(exc).__name__}: {exc}") from exc
        return str(row.phone), values


class _Refused(Exception):
    """This message can never be sent as it is."""
