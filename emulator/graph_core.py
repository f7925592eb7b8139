"""What every Graph call goes through: bearer auth, scopes, faults, concurrency, error envelope.

Error bodies follow tests/data/graph-samples/error-response.json and error-throttled.json
(docs/microsoft-graph.md §5-6).
"""
from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps

import orjson
from flask import Response, current_app, request

from .scopes import CALENDAR

JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 inner_code: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.inner_code = headers or {}, inner_code

    def response(self, request_id: str) -> Response:
        inner = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                 "request-id": request_id, "client-request-id": client_request_id(request_id)}
        if self.inner_code:
            inner["code"] = self.inner_code
        if self.status == 429:  # tests/data/graph-samples/error-throttled.json
            inner.update(code=self.inner_code or "429", message="Please retry after",
                         status="429")
        body = {"error": {"code": self.code, "message": self.message, "innerError": inner}}
        return json_response(body, self.status, self.headers)


@dataclass
class Caller:
    user: object
    scopes: list[str]
    token: object

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def basic_only(self) -> bool:
        """Calendars.ReadBasic alone: events without body or bodyPreview (docs/microsoft-graph.md §1)."""
        return not ({"Calendars.Read", "Calendars.ReadWrite"} & set(self.scopes))


def state():
    return current_app.extensions["emulator"]


def client_request_id(fallback: str) -> str:
    return request.headers.get("client-request-id", fallback)


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    # One dumps per response: pages of 1,000 events must stay cheap (the sync benchmark's server).
    # orjson: compact UTF-8, as Graph sends; ~15x the stdlib encoder on a 1,000-event page,
    # whose encoding was a third of the emulator's time (and the emulator shares the machine
    # with the code a benchmark measures).
    body = orjson.dumps(payload)
    return Response(body, status, headers or {}, content_type=JSON_TYPE)


def authenticate() -> Caller:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    token = state().tokens.lookup_access(header[7:].strip())
    if token is None:
        raise GraphError(401, "InvalidAuthenticationToken",
                         "Access token has expired or is not yet valid.")
    user = state().world.users.get(token.oid)
    if user is None:
        raise GraphError(401, "InvalidAuthenticationToken", "The user of this token is unknown.")
    return Caller(user, token.scopes, token)


def require(caller: Caller, kind: str) -> None:
    if kind == "directory" and "User.Read" not in caller.scopes:
        raise GraphError(403, "Authorization_RequestDenied",
                         "Insufficient privileges to complete the operation.")
    if kind == "calendar" and not CALENDAR & set(caller.scopes):
        raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    if kind == "calendar" and caller.email.lower() in state().faults.no_rest:
        raise GraphError(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, "
                         "soft-deleted, or is hosted on-premise.")


def fault_error(rule) -> GraphError:
    headers = {} if rule.retry_after is None else {"Retry-After": str(rule.retry_after)}
    if rule.status == 429:
        return GraphError(429, "TooManyRequests", "Please retry again later.", headers)
    if rule.status == 504:
        return GraphError(504, "GatewayTimeout", "The gateway did not receive a timely response "
                          "from the upstream server.", headers)
    return GraphError(503, "serviceNotAvailable", "The service is temporarily unavailable. "
                      "You may repeat the request after a delay.", headers)


@contextmanager
def mailbox_slot(mailbox: str):
    """At most N requests in flight per mailbox; the next gets 429 MailboxConcurrency (§5)."""
    st = state()
    in_flight = st.stats.enter(mailbox)
    try:
        limit = st.mailbox_concurrency
        if limit is not None and in_flight > limit:
            raise GraphError(429, "ApplicationThrottled", "Application is over its "
                             "MailboxConcurrency limit.", {"Retry-After": "1"},
                             inner_code="MailboxConcurrency")
        yield
    finally:
        st.stats.leave(mailbox)


def graph_call(kind: str):
    """Wrap a view `fn(caller, **kw)`: auth, scope, faults, concurrency, stats, error envelope."""
    def decorate(fn):
        @wraps(fn)
        def wrapper(**kw):
            st = state()
            request_id = str(uuid.uuid4())
            endpoint = f"{request.method} {request.url_rule.rule}"
            mailbox = None
            try:
                caller = authenticate()
                mailbox = caller.email
                with mailbox_slot(mailbox):
                    delay, rule = st.faults.pick(endpoint, mailbox)
                    if delay:
                        time.sleep(delay / 1000)
                    if rule is not None:
                        raise fault_error(rule)
                    require(caller, kind)
                    response = fn(caller, **kw)
            except GraphError as exc:
                response = exc.response(request_id)
            response.headers["request-id"] = request_id
            response.headers["client-request-id"] = client_request_id(request_id)
            st.stats.record(endpoint, mailbox, response.status_code)
            return response
        return wrapper
    return decorate
