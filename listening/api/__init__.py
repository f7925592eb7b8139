"""The read-only API for other systems (/api/v1) and its keys.

- ``keys``: create, revoke and authenticate API keys (only a hash is kept);
- ``reading``: the use cases behind the routes (keyset pages, one 1-on-1 with its occurrences);
- ``schemas``: the marshmallow schemas that write responses and the OpenAPI document;
- ``views``: the flask-smorest blueprint; ``problems``: RFC 9457 errors for all of /api.

The OpenAPI 3.1 document is served at /api/v1/openapi.json.
"""
from __future__ import annotations


def init_app(app) -> None:
    """The blueprint, the OpenAPI document and the API's config (Flask is imported only here)."""
    from listening.api import views

    views.init_app(app)
