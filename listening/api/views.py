"""/api/v1: read-only JSON for other systems, scoped to the organization of the caller's key.

Each request: the bearer key is checked (401), its scope (403), its rate (429), the query
string (422); the use case reads (listening/api/reading.py); ``_finish`` answers 304 to a
list the client already has (ETag), writes ONE audit entry (key, route, status, how many
items) and commits it with the key's "last used". No session cookie is read or set and no
CSRF token is asked: a bearer key is not sent by a browser on its own, so a forged
cross-site request has nothing to ride on.
"""
from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime
from functools import wraps

from flask import abort, g, request
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import RAISE
from werkzeug.exceptions import TooManyRequests

from listening import audit
from listening.api import keys, reading, schemas
from listening.api.problems import MEDIA_TYPE
from listening.audit import Action
from listening.web import deps
from listening.web.limits import by_address, count_failure, failures_refused, limiter
from listening.web.security import csrf

blp = Blueprint("api", __name__, url_prefix="/api/v1",
                description="Attached 1-on-1s and the directory of the key's organization (read-only).")

POLICY = "per-key"
_PROBLEM = {"schema": schemas.Problem, "content_type": MEDIA_TYPE}
_RATE_HEADERS = {
    "RateLimit": {"description": 'What is left of this key\'s limit: `"per-key";r=REMAINING;t=SECONDS`',
                  "schema": {"type": "string"}},
    "RateLimit-Policy": {"description": 'This key\'s limit: `"per-key";q=QUOTA;w=WINDOW_SECONDS`',
                         "schema": {"type": "string"}},
}
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                  "description": "The ETag of a page you have: 304 and no body if it is unchanged"}
_LIST_HEADERS = {**_RATE_HEADERS, "ETag": {"description": "Send it back in If-None-Match to get a 304 "
                                                          "when the page has not changed",
                                           "schema": {"type": "string"}}}


# --- every request ------------------------------------------------------------------------------
@blp.before_request
def _authenticate():
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(401, description="Send an API key in the header 'Authorization: Bearer lst_…'.")
    # Failures are limited per address before any key is looked up, so a client trying keys
    # costs one Redis check per request once it is refused.
    limit = deps.services().settings.api_key_failure_limit
    wait = failures_refused(limit, by_address())
    if wait is not None:
        raise TooManyRequests(f"Too many requests with an API key that is not valid came from this "
                              f"address; try again in {wait} seconds.", retry_after=wait)
    sess = deps.session()
    key = keys.authenticate(sess, secret.strip())
    if key is None:
        count_failure(limit, by_address())
        abort(401, description="This API key is not valid: it is unknown or it was revoked.")
    g.api_key = key


@blp.after_request
def _finish(response):
    key = g.get("api_key")
    if key is None:
        return response
    if request.method == "GET" and response.status_code == 200 and g.get("api_list"):
        response = _not_modified_if_unchanged(response)
    _rate_headers(response)
    _audit(key, response)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _not_modified_if_unchanged(response):
    tag = '"' + hashlib.sha256(response.get_data()).hexdigest()[:32] + '"'
    response.headers["ETag"] = tag
    wanted = {t.strip().removeprefix("W/") for t in request.headers.get("If-None-Match", "").split(",")}
    if tag in wanted or "*" in wanted:
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
    return response


def _rate_headers(response) -> None:
    current = limiter.current_limit
    if current is None:
        return
    window = int(current.limit.get_expiry())
    reset = max(0, math.ceil(current.reset_at - time.time()))
    response.headers["RateLimit-Policy"] = f'"{POLICY}";q={current.limit.amount};w={window}'
    response.headers["RateLimit"] = f'"{POLICY}";r={max(0, current.remaining)};t={reset}'
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, reset))


def _audit(key, response) -> None:
    sess = deps.session()
    if response.status_code >= 500:
        sess.rollback()  # whatever failed is not kept; the entry still says it was asked
    rule = request.url_rule.rule if request.url_rule is not None else request.path[:200]
    details = {"api_key_id": key.id, "route": rule, "method": request.method,
               "status": response.status_code}
    if g.get("api_count") is not None:
        details["count"] = g.api_count
    # Last of all, just before the commit: updating the key's row locks it until then, and
    # taken at the start it would make every request of one key wait for the one before.
    keys.mark_used(sess, key, datetime.now(UTC))
    audit.record(sess, Action.api_request, None, None, details, org_id=key.org_id)
    sess.commit()


def _key_of_request() -> str:
    return f"api-key:{g.api_key.id}"


def _rate() -> str:
    return deps.services().settings.api_rate_limit


def needs(scope: str):
    """The key must hold ``scope`` (403 otherwise); then the per-key rate limit applies."""
    def decorate(view):
        limited = limiter.limit(_rate, key_func=_key_of_request, scope="api")(view)

        @wraps(view)
        def wrapper(*args, **kwargs):
            if scope not in g.api_key.scopes:
                abort(403, description=f"This API key does not have the scope {scope}.")
            return limited(*args, **kwargs)
        return wrapper
    return decorate


def _errors(*statuses):
    """Document the problem responses an operation can give (and 429, which all can)."""
    def decorate(view):
        for status in sorted({401, 403, 422, 429, *statuses}):
            headers = _RATE_HEADERS if status == 429 else None
            view = blp.alt_response(status, **_PROBLEM, headers=headers,
                                    description=_ERROR_WORDS[status])(view)
        return view
    return decorate


_ERROR_WORDS = {
    400: "The cursor is not one this API returned",
    401: "No API key, or one that is unknown or revoked",
    403: "The key lacks the scope this route needs",
    404: "No such 1-on-1 in the key's organization",
    422: "A query parameter is not valid",
    429: "Too many requests for this key; wait Retry-After seconds",
}


def _page_of(reader, filters):
    try:
        page = reader(deps.session(), g.api_key.org_id, filters)
    except reading.CursorError as err:
        abort(400, description=str(err))
    g.api_list, g.api_count = True, len(page.items)
    return page


# --- routes ------------------------------------------------------------------------------------
# ``needs`` is outermost so that scope and rate are checked before the query string is read.
@blp.route("/one-on-ones")
@needs("one_on_ones:read")
@_errors(400)
@blp.doc(summary="Attached 1-on-1s", security=[{"bearerAuth": []}], parameters=[_IF_NONE_MATCH],
         description="Needs the scope `one_on_ones:read`. Keyset pages in id order.")
@blp.arguments(schemas.OneOnOneFilters, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, schemas.OneOnOnePage, headers=_LIST_HEADERS)
@blp.alt_response(304, description="Not modified since the ETag sent in If-None-Match")
def list_one_on_ones(filters):
    return _page_of(reading.one_on_ones_page, filters)


@blp.route("/one-on-ones/<int:one_on_one_id>")
@needs("one_on_ones:read")
@_errors(404)
@blp.doc(summary="One attached 1-on-1 and its occurrences", security=[{"bearerAuth": []}],
         description="Needs the scope `one_on_ones:read`. Occurrences overlapping [start, end), "
                     "cancelled or not: only times.")
@blp.arguments(schemas.OccurrenceRange, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, schemas.OneOnOneDetail, headers=_RATE_HEADERS)
def get_one_on_one(window, one_on_one_id: int):
    found = reading.one_on_one(deps.session(), g.api_key.org_id, one_on_one_id, window, datetime.now(UTC))
    if found is None:
        abort(404, description="There is no such 1-on-1 in this key's organization.")
    g.api_count = len(found["occurrences"])
    return found


@blp.route("/people")
@needs("directory:read")
@_errors(400)
@blp.doc(summary="The directory", security=[{"bearerAuth": []}], parameters=[_IF_NONE_MATCH],
         description="Needs the scope `directory:read`. Keyset pages in id order.")
@blp.arguments(schemas.PeopleFilters, location="query", as_kwargs=False, unknown=RAISE)
@blp.response(200, schemas.PeoplePage, headers=_LIST_HEADERS)
@blp.alt_response(304, description="Not modified since the ETag sent in If-None-Match")
def list_people(filters):
    return _page_of(reading.people_page, filters)


# --- the app's wiring ----------------------------------------------------------------------------
class _Api(Api):
    """flask-smorest's Api without its app-wide JSON error handler: the app's own handler
    answers problem details under /api and HTML pages elsewhere (listening/web/__init__.py).
    Its "default" response (any other error, e.g. a 500) is documented as a problem too."""

    ERROR_SCHEMA = schemas.Problem

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        response = {"description": "Any other error (5xx): a problem that names the request id",
                    "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, MEDIA_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def init_app(app) -> None:
    app.config.update(
        API_TITLE="Listening", API_VERSION="1", OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Read-only access to the attached 1-on-1s and the directory of "
                                    "the organization that owns the API key."},
            "servers": [{"url": "/"}],
            "components": {"securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "An API key made by an HR admin: `Authorization: Bearer lst_…`"}}},
        },
    )
    api = _Api(app)
    api.register_blueprint(blp)
    csrf.exempt(blp)
