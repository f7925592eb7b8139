"""A Standard Webhooks receiver for the tests and the benchmark: a real HTTP server on a free
loopback port that checks each signature with the ``standardwebhooks`` library (as a
receiver written by someone else would) and can be told to be slow, fail, answer 410,
redirect, or hold a request until released."""
from __future__ import annotations

import json
import threading
import time

from standardwebhooks import Webhook
from werkzeug.wrappers import Request, Response

from tests.support.loopback import LoopbackServer


class Receiver:
    def __init__(self, secret: str | None = None):
        self.secret = secret
        self.lock = threading.Lock()
        self.received: list[dict] = []   # {"path", "id", "timestamp", "payload", "verified", "at"}
        self.status = 204
        self.delay = 0.0
        self.location: str | None = None  # answer 302 to this address
        self.hold: threading.Event | None = None  # the first request waits until it is set
        self.served = LoopbackServer(self._wsgi, "webhook-receiver")
        self.url = self.served.url + "/hook"

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(as_text=True)
        headers = dict(request.headers)
        if self.secret is None:  # told not to check (verified stays None)
            payload, verified = json.loads(body or "null"), None
        else:
            try:
                payload, verified = Webhook(self.secret).verify(body, headers), True
            except Exception:  # WebhookVerificationError and its kin
                payload, verified = None, False
        with self.lock:
            self.received.append({"path": request.path, "id": headers.get("Webhook-Id"),
                                  "timestamp": headers.get("Webhook-Timestamp"), "payload": payload,
                                  "verified": verified, "at": time.monotonic()})
            hold, self.hold = self.hold, None
        if hold is not None:
            hold.wait(60)
        if self.delay:
            time.sleep(self.delay)
        if verified is False:
            response = Response("bad signature", 400)
        elif self.location:
            response = Response(status=302, headers={"Location": self.location})
        else:
            response = Response(status=self.status)
        return response(environ, start_response)

    def at(self, path: str = "/hook") -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["path"] == path]

    def wait(self, count: int, timeout: float = 20.0, path: str = "/hook") -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.at(path)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} deliveries at {path}, got {len(got)}")
            time.sleep(0.02)

    def close(self) -> None:
        self.served.close()
