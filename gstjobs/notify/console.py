"""The console/file channel: the default for email when SMTP_HOST is not set.

It never prints a message (names and addresses must stay out of logs and cron
mail): each message is written as ``notification-<id>.eml`` (email) or
``notification-<id>.json`` (WhatsApp) into GSTJOBS_OUTBOX_DIR, else
``<GSTJOBS_DATA_DIR>/outbox``, and only the id and file name are logged. A message
the real channel would refuse for good (an email recipient without an address, a
WhatsApp recipient who did not opt in or has no phone, a payload its WhatsApp
template cannot use) is refused here the same way, a permanent DeliveryError, and
is neither written nor marked sent. The file is written to a temporary name and
renamed, so a re-send after a crash replaces it: this channel delivers exactly once
by construction.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from gstjobs.notify import email as email_channel
from gstjobs.notify import whatsapp
from gstjobs.notify.message import DeliveryError, Outgoing, scrub

log = logging.getLogger(__name__)

DEFAULT_SENDER = "gstjobs@localhost"


class FileChannel:
    name = "file"

    def __init__(self, directory: Path, sender: str = DEFAULT_SENDER) -> None:
        self.directory = directory
        self.sender = sender

    def send(self, message: Outgoing) -> str:
        if message.channel == "whatsapp":
            body = json.dumps(
                {
                    "to": whatsapp.recipient_phone(message),
                    "template": message.template,
                    "parameters": whatsapp.parameters(message),
                },
                ensure_ascii=False,
                indent=2,
            ).encode()
            suffix = "json"
        else:
            body = email_channel.build(message, self.sender).as_bytes()
            suffix = "eml"
        path = self.directory / f"notification-{message.id}.{suffix}"
        tmp = path.with_suffix(f".{suffix}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(body)
            os.replace(tmp, path)
        except OSError as exc:
            raise DeliveryError(scrub(f"cannot write {path}: {exc.strerror or exc}")) from exc
        log.info("notification %d written to %s", message.id, path)
        return str(path)

    def close(self) -> None:
        return None
