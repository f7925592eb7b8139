"""The emulator's outgoing HTTP: the validation handshake and notification POSTs (§9).

Microsoft's limits (docs/microsoft-graph.md §9): the validation answer within 10 s, a 2xx to a
notification within 3 s. Both are constructor arguments so tests can shorten them.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

VALIDATION_TIMEOUT = 10.0
DELIVERY_TIMEOUT = 3.0
POOL_SIZE = 64  # keep-alive connections kept per host (at least the delivery concurrency)


@dataclass
class Attempt:
    ok: bool
    status: int | None
    outcome: str  # "delivered", "validated", "http 500", "timeout", "unreachable", "slow", ...


class Webhooks:
    def __init__(self, unreachable, validation_timeout: float = VALIDATION_TIMEOUT,
                 delivery_timeout: float = DELIVERY_TIMEOUT):
        """`unreachable(url)` says whether a fault takes the endpoint down."""
        self.unreachable = unreachable
        self.validation_timeout = validation_timeout
        self.delivery_timeout = delivery_timeout
        self.session = requests.Session()
        # Loopback receivers in the demo and tests: no proxies from the environment.
        self.session.trust_env = False
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=POOL_SIZE)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def validate(self, url: str) -> Attempt:
        """POST {url}?validationToken=...; the answer must be 200, text/plain, the token itself."""
        # Graph's tokens are readable text with spaces and colons, so a receiver that forgets to
        # URL-decode them fails here as it would against Microsoft.
        token = ("Validation: Testing client application reachability for subscription "
                 f"Request-Id: {uuid.uuid4()}")
        target = url + ("&" if "?" in url else "?") + "validationToken=" + quote(token, safe="")
        attempt, response = self._post(target, b"", {"Content-Type": "text/plain; charset=utf-8"},
                                       self.validation_timeout)
        if response is None:
            return attempt
        if response.status_code != 200:
            return Attempt(False, response.status_code, f"http {response.status_code}")
        if not response.headers.get("Content-Type", "").lower().startswith("text/plain"):
            return Attempt(False, 200, "not text/plain")
        if response.text != token:
            return Attempt(False, 200, "wrong token")
        return Attempt(True, 200, "validated")

    def deliver(self, url: str, payload: bytes) -> Attempt:
        attempt, response = self._post(url, payload, {"Content-Type": "application/json"},
                                       self.delivery_timeout)
        if response is None:
            return attempt
        if not 200 <= response.status_code < 300:
            return Attempt(False, response.status_code, f"http {response.status_code}")
        return Attempt(True, response.status_code, "delivered")

    def _post(self, url: str, body: bytes, headers: dict, limit: float):
        """(failed Attempt, None) or (None, response) for an answer that came within `limit`."""
        if self.unreachable(url):
            return Attempt(False, None, "unreachable"), None
        started = time.monotonic()
        try:
            response = self.session.post(url, data=body, headers=headers, timeout=limit,
                                         allow_redirects=False)
        except requests.Timeout:
            return Attempt(False, None, "timeout"), None
        except requests.RequestException as exc:
            return Attempt(False, None, f"unreachable ({type(exc).__name__})"), None
        if time.monotonic() - started > limit:  # the read timeout is per read, not in total
            return Attempt(False, response.status_code, "slow"), None
        return None, response

    def close(self) -> None:
        self.session.close()
