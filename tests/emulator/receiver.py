"""A webhook endpoint for the notification tests: a real HTTP server on a free loopback port.

It answers Graph's validation handshake (echoing the URL-decoded token as text/plain, or a wrong
answer when told to) and records every notification POST per path.
"""
from __future__ import annotations

import threading
import time

from werkzeug.wrappers import Request, Response

from tests.support.loopback import LoopbackServer


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.posts: list[dict] = []         # {"path", "query", "value"}
        self.validations: list[dict] = []   # {"path", "token", "query", "content_type", "body"}
        self.answer = lambda token: token   # what the handshake answers
        self.answer_type = "text/plain; charset=utf-8"
        self.validation_delay = 0.0
        self.status = 202
        self.delay = 0.0
        self.served = LoopbackServer(self.wsgi, "notification-receiver")
        self.url = self.served.url

    @property
    def hook(self) -> str:
        return self.url + "/hook"

    @property
    def life(self) -> str:
        return self.url + "/life"

    def wsgi(self, environ, start_response):
        request = Request(environ)
        token = request.args.get("validationToken")
        if token is not None:
            with self.lock:
                self.validations.append({"path": request.path, "token": token,
                                         "query": request.query_string.decode(),
                                         "content_type": request.content_type,
                                         "body": request.get_data(as_text=True)})
            time.sleep(self.validation_delay)
            response = Response(self.answer(token), 200, content_type=self.answer_type)
        else:
            body = request.get_json(silent=True) or {}
            with self.lock:
                self.posts.append({"path": request.path, "query": request.query_string.decode(),
                                   "value": body.get("value")})
            time.sleep(self.delay)
            response = Response(status=self.status)
        return response(environ, start_response)

    def items(self, path: str = "/hook") -> list[dict]:
        """Every notification received at `path`, in arrival order."""
        with self.lock:
            return [item for post in self.posts if post["path"] == path for item in post["value"]]

    def posts_to(self, path: str = "/hook") -> list[dict]:
        with self.lock:
            return [post for post in self.posts if post["path"] == path]

    def wait_items(self, count: int, path: str = "/hook", timeout: float = 5.0) -> list[dict]:
        """Poll until at least `count` notifications arrived at `path`; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.items(path)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} notifications at {path}, got {got}")
            time.sleep(0.02)

    def close(self) -> None:
        self.served.close()


def wait_for(probe, timeout: float = 5.0, what: str = "condition"):
    """Poll `probe()` until it returns something truthy; return it, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
