"""Graph subscription calls for the notification tests (plain requests over loopback)."""
from __future__ import annotations

from datetime import datetime, timezone

import requests


def stamp_in(emu, minutes: float) -> str:
    """An expirationDateTime `minutes` ahead on the emulator's clock."""
    moment = datetime.fromtimestamp(emu.state.clock.now() + minutes * 60, timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def call(emu, method: str, token: str, path: str, json=None) -> requests.Response:
    return requests.request(method, emu.url + "/v1.0" + path, json=json, timeout=30,
                            headers={"Authorization": f"Bearer {token}"})


def subscribe(emu, token: str, receiver, lifecycle: bool = True, **overrides):
    body = {"changeType": "created,updated,deleted", "notificationUrl": receiver.hook,
            "resource": "me/events", "expirationDateTime": stamp_in(emu, 24 * 60),
            "clientState": "secret-state", "latestSupportedTlsVersion": "v1_2"}
    if lifecycle:
        body["lifecycleNotificationUrl"] = receiver.life
    body.update(overrides)
    return call(emu, "POST", token, "/subscriptions", {k: v for k, v in body.items()
                                                       if v is not None})


def token_for(emu, email: str, scopes=("User.Read", "Calendars.Read", "offline_access"),
              **extra) -> str:
    return emu._call("POST", "/tokens", {"user": email, "scopes": list(scopes), **extra})[
        "access_token"]
