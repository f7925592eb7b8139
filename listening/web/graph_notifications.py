"""The two URLs Microsoft Graph posts to: change notifications and lifecycle events (§9).

Only Graph's POSTs come here: no sign-in session (no cookie is read or set), no CSRF token
(Graph has none; each notification carries our secret clientState instead, checked in
listening/notifications/intake.py). The validation handshake is answered with the token as
text/plain; everything else within Graph's 3 seconds, having only queued work.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from listening.notifications.intake import Answer, Intake
from listening.notifications.subscriptions import LIFECYCLE_PATH, NOTIFICATIONS_PATH
from listening.web import security

PREFIX = "/graph"
MAX_BODY = 1024 * 1024  # 100 notifications are ~100 KB

bp = Blueprint("graph_notifications", __name__, url_prefix=PREFIX)


def init_app(app, services) -> None:
    app.extensions["graph_intake"] = Intake(services)
    security.csrf.exempt(bp)
    security.sessionless(app, PREFIX + "/")
    app.register_blueprint(bp)


def _intake() -> Intake:
    return current_app.extensions["graph_intake"]


@bp.post(NOTIFICATIONS_PATH.removeprefix(PREFIX))
def changes():
    token = request.args.get("validationToken")
    if token is not None:
        return _answer(Intake.validation(token))
    return _answer(_body() or _intake().changes(request.get_data(cache=False)))


@bp.post(LIFECYCLE_PATH.removeprefix(PREFIX))
def lifecycle():
    token = request.args.get("validationToken")
    if token is not None:
        return _answer(Intake.validation(token))
    return _answer(_body() or _intake().lifecycle(request.get_data(cache=False)))


def _body() -> Answer | None:
    """A refusal for a body that is not Graph's JSON, before reading it (counted like the rest)."""
    if request.mimetype != "application/json":
        return _intake().refuse("not_json", 415)
    if request.content_length is None or request.content_length > MAX_BODY:
        return _intake().refuse("too_large", 413)
    return None


def _answer(answer: Answer) -> Response:
    return Response(answer.text, answer.status, mimetype="text/plain")
