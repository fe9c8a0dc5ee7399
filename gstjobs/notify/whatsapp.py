"""WhatsApp through the WhatsApp Business Cloud API (stdlib urllib).

``POST {api_url}/{phone_number_id}/messages`` with a Bearer token and a ``template``
message: business-initiated messages must use templates Meta has approved, so each
gstjobs template maps to an approved WhatsApp template of the same name (language
TEMPLATE_LANGUAGE) whose body placeholders are filled from
``templates.whatsapp_parameters``. Only users who opted in and have a phone number
receive WhatsApp. The ``messages[0].id`` of the answer (``wamid…``) is stored as
the provider message id. 4xx, 5xx, malformed answers and timeouts are failures;
their text never contains the token or the recipient's number.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from gstjobs.config import WhatsAppSettings
from gstjobs.notify.message import DeliveryError, Outgoing, scrub
from gstjobs.notify.templates import RenderError, whatsapp_parameters

log = logging.getLogger(__name__)

TEMPLATE_LANGUAGE = "en"


def recipient_phone(message: Outgoing) -> str:
    """The number to message; a permanent failure unless the user opted in and has one.

    The file channel applies the same rule, so a WhatsApp row fails the same way
    whether or not WhatsApp is configured.
    """
    recipient = message.recipient
    if not recipient.whatsapp_opt_in:
        raise DeliveryError("the recipient has not opted in to WhatsApp", permanent=True)
    if not recipient.phone:
        raise DeliveryError("the recipient has no phone number", permanent=True)
    return recipient.phone


def parameters(message: Outgoing) -> list[str]:
    """The template's body parameters; a payload that cannot fill them fails for good."""
    try:
        return whatsapp_parameters(message.template, message.payload, message.envelope)
    except (RenderError, KeyError, ValueError, TypeError) as exc:
        raise DeliveryError(f"WhatsApp parameters: {exc}", permanent=True) from exc


def request_body(message: Outgoing) -> dict[str, Any]:
    phone = recipient_phone(message)
    values = parameters(message)
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": phone.lstrip("+"),
        "type": "template",
        "template": {
            "name": message.template,
            "language": {"code": TEMPLATE_LANGUAGE},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": p} for p in values],
                }
            ],
        },
    }


class WhatsAppChannel:
    name = "whatsapp"

    def __init__(self, settings: WhatsAppSettings) -> None:
        self.settings = settings
        self.endpoint = f"{settings.api_url}/{settings.phone_number_id}/messages"

    def send(self, message: Outgoing) -> str:
        body = json.dumps(request_body(message)).encode()
        request = urllib.request.Request(
            self.endpoint,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.settings.access_token}",
                "Content-Type": "application/json",
            },
        )
        secrets = (self.settings.access_token, message.recipient.phone)
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(scrub(_http_error(exc), secrets)) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            text = f"WhatsApp API unreachable: {type(reason).__name__}: {reason}"
            raise DeliveryError(scrub(text, secrets)) from exc
        try:
            wamid = json.loads(answer)["messages"][0]["id"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise DeliveryError("WhatsApp API answered without a message id") from exc
        log.info("notification %d accepted by the WhatsApp API", message.id)
        return str(wamid)

    def close(self) -> None:
        return None


def _http_error(exc: urllib.error.HTTPError) -> str:
    """``HTTP 400: (#131030) Recipient phone number not in allowed list``."""
    text = f"HTTP {exc.code}"
    try:
        error = json.loads(exc.read())["error"]
        code = error.get("code")
        detail = error.get("error_data", {}).get("details") or error.get("message", "")
        text += f": (#{code}) {detail}" if code is not None else f": {detail}"
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        text += f": {exc.reason}"
    return text
