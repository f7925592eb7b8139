"""The web layer: thin blueprints that validate input, call one use case, commit once, and
render or redirect; who may do what (security); the request's dependencies (deps)."""
from __future__ import annotations

from flask import Response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from listening.admin import directory
from listening.api import problems
from listening.core import when


def init_app(app, services) -> None:
    from listening import api
    from listening.web import deps, graph_notifications, limits, oauth, outages, security, urls

    deps.init_app(app, services)
    oauth.init_app(app, services.settings)
    security.init_app(app, services.settings)
    outages.init_app(app)
    limits.init_app(app, services.settings)
    urls.register_converters(app)
    register_blueprints(app)
    api.init_app(app)
    graph_notifications.init_app(app, services)


def register_blueprints(app) -> None:
    from listening.web import admin, auth, health, nav, one_on_ones, outlook, pages, sync
    from listening.web.security import hats, is_sessionless

    for module in (admin, auth, pages, one_on_ones, outlook, sync, health):
        app.register_blueprint(module.bp)
    app.context_processor(lambda: {"nav_sections": lambda: nav.sections(hats()), "moment": _moment})

    @app.errorhandler(CSRFError)
    def _csrf(error):
        if problems.is_api_request():
            return problems.from_exception(error)
        return render_template("message.html", title="Form expired",
                               message="This form was missing its security token or it expired. "
                                       "Go back, reload the page and try again."), 400

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error):
        if is_sessionless(request.path):
            return Response("too large", 413, mimetype="text/plain")
        if problems.is_api_request():
            return problems.from_exception(error)
        # Raised while reading the body, before any view: nothing was read, so nothing changed.
        limit = directory.MAX_BYTES // 2**20  # the stated limit, as the import page states it
        return render_template("message.html", title="File too large",
                               message=f"The upload is larger than {limit} MB, the most Listening "
                                       "accepts. Nothing was imported or changed."), 413

    @app.errorhandler(HTTPException)
    def _http(error):
        if is_sessionless(request.path):  # machines: no page (it would need a session)
            return Response(error.name, error.code, mimetype="text/plain")
        if problems.is_api_request():  # RFC 9457 problem details, also for unknown routes and 405
            return problems.from_exception(error)
        return render_template("message.html", title=f"{error.code} {error.name}",
                               message=error.description), error.code


def _moment(value):
    """A moment as the signed-in person reads it (their zone, and how long ago or ahead)."""
    from datetime import UTC, datetime

    from flask import g

    person = g.get("person")
    return when.moment(value, when.zone_of(person.time_zone if person else None), datetime.now(UTC))
