"""Every 4xx and 5xx under /api as RFC 9457 problem details (``application/problem+json``).

The app's one HTTPException handler (listening/web/__init__.py) sends requests under /api
here, so unknown routes (404), wrong methods (405), a missing or revoked key (401), a
missing scope (403), bad query strings (422) and rate limits (429) all answer alike. A 500
says only that something went wrong and the request id, never the exception.
"""
from __future__ import annotations

import json
from http import HTTPStatus

from flask import Response, g, request
from werkzeug.exceptions import HTTPException

from listening.api.schemas import Problem

MEDIA_TYPE = "application/problem+json"
PREFIX = "/api"
_SCHEMA = Problem()


def is_api_request() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def response(status: int, detail: str | None = None, *, errors: dict | None = None,
             headers: dict | None = None) -> Response:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "instance": request.path}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    resp = Response(json.dumps(_SCHEMA.dump(body)), status=status, mimetype=MEDIA_TYPE)
    resp.headers.update(headers or {})
    return resp


_DETAILS = {
    404: "There is nothing at this address of the API.",
    405: "This address does not answer that method; the API is read-only.",
}


def from_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("messages") if isinstance(data, dict) else None
    if status >= 500:
        detail = f"Something went wrong on our side (request {g.get('request_id', '-')}); try again later."
    elif errors:
        detail = "Some query parameters are not valid; 'errors' says which."
    else:
        detail = _DETAILS.get(status) if _is_werkzeug_default(error) else error.description
    headers = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "www-authenticate", "retry-after")}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="Listening API"'
    return response(status, detail, errors=errors, headers=headers)


def _is_werkzeug_default(error: HTTPException) -> bool:
    return error.description == type(error).description
