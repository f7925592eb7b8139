"""Standard Webhooks signatures, made by the specification's own library.

``webhook-signature`` is ``v1,`` and the base64 HMAC-SHA256, under the endpoint's
``whsec_`` secret, of ``{webhook-id}.{webhook-timestamp}.{body}``; receivers check it with
any Standard Webhooks library and refuse a timestamp more than five minutes off.
"""
from __future__ import annotations

from datetime import datetime
from math import floor

from standardwebhooks import Webhook


def headers(secret: str, msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(floor(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, timestamp, body),
        "Content-Type": "application/json",
        "User-Agent": "Listening-Webhooks/1",
    }
