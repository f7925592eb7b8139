"""What a request works with: the process's Services, one database Session, a request id.

The one place of the web layer that reads them from the app, so that views stay
thin and the use cases they call never touch Flask. The request's Session is
committed once by the view that changes data; teardown rolls back whatever was
not committed.
"""
from __future__ import annotations

import re
import uuid

from flask import current_app, g, request
from sqlalchemy.orm import Session

from listening.core import logs
from listening.services import Services

_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")


def init_app(app, services: Services) -> None:
    app.extensions["listening"] = services
    app.before_request(_request_id)
    app.after_request(_echo_request_id)
    app.teardown_appcontext(_close_session)


def services() -> Services:
    return current_app.extensions["listening"]


def session() -> Session:
    if "db_session" not in g:
        g.db_session = services().db.sessionmaker()
    return g.db_session


def _close_session(_exc) -> None:
    sess = g.pop("db_session", None)
    if sess is not None:
        sess.close()  # rolls back anything not committed


def _request_id() -> None:
    incoming = request.headers.get("X-Request-Id", "")
    rid = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_id = rid
    logs.context_id.set(rid)


def _echo_request_id(response):
    response.headers["X-Request-Id"] = g.get("request_id", "-")
    return response
