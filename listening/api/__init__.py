"""The read-only API for other systems (/api/v1) and its keys.

- ``keys``: create, revoke and authenticate API keys (only a hash is kept);
- ``reading``: the use cases behind the routes (keyset pages, one 1-on-1 with its occurrences);
- ``schemas``: the marshmallow schemas that write responses and the OpenAPI document;
- ``views``: the flask-smorest blueprint; ``problems``: RFC 9457 errors for all of /api.

The OpenAPI 3.1 document is served at /api/v1/openapi.json.
"""
from __future__ import annotations

from flask_smorest import Api


class _Api(Api):
    """flask-smorest's Api without its app-wide JSON error handler: the app's own handler
    answers problem details under /api and HTML pages elsewhere (listening/web/__init__.py)."""

    def _register_error_handlers(self):
        pass


def init_app(app) -> None:
    from listening.api import views
    from listening.web.security import csrf

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
    api.register_blueprint(views.blp)
    csrf.exempt(views.blp)
