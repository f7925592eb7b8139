"""Pages while PostgreSQL or Redis is down: a 503 page that says so, with Retry-After, never a 500
(under /api the same as problem details).

A request that cannot reach a store fails at its first query (or Redis command), be it
in loading the signed-in person or in the view; nothing was changed (the request's
session is rolled back at teardown). Load balancers probe /healthz, which never needs
the signed-in person (listening/web/health.py).
"""
from __future__ import annotations

import logging

from flask import g, render_template
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_exc

from listening.core import db

log = logging.getLogger(__name__)
RETRY_AFTER = 60  # seconds: what the pages ask browsers and crawlers to wait
DATABASE_DOWN = "Listening can't reach its database; try again in a minute."
DATABASE_BUSY = "Listening's database is too busy to answer; try again in a minute."
QUEUE_DOWN = "Listening can't reach its job queue; try again in a minute."


def init_app(app) -> None:
    for error in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.register_error_handler(error, _database)
    for error in (redis_errors.ConnectionError, redis_errors.TimeoutError):
        app.register_error_handler(error, _queue)


def _database(error):
    fault = db.fault_of(error) or db.Fault.unreachable
    log.warning("page answered 503: database %s (%s)", fault.value, type(error).__name__)
    busy = fault in (db.Fault.deadlock, db.Fault.timeout)
    return unavailable(DATABASE_BUSY if busy else DATABASE_DOWN)


def _queue(error):
    log.warning("page answered 503: Redis unreachable (%s)", type(error).__name__)
    return unavailable(QUEUE_DOWN)


def unavailable(message: str):
    from listening.api import problems

    headers = {"Retry-After": str(RETRY_AFTER)}
    if problems.is_api_request():  # the API answers problem details, as for every other error
        return problems.response(503, message, headers=headers)
    g.person = None  # the page must not need the database it could not reach
    body = render_template("message.html", title="Listening is unavailable", message=message)
    return body, 503, headers
