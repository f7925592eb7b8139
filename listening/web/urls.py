"""URL helpers: same-site redirects, id converters bounded to the columns, external links."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for
from werkzeug.routing import IntegerConverter

from listening.core.models import INT4_MAX, INT8_MAX


def safe_next(url: str | None) -> str | None:
    """A same-site path to return to, or None for anything that could leave the site or break
    the Location header (control characters, CR/LF, spaces, backslashes)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    return url


class IdConverter(IntegerConverter):
    """``<int:…>``: a positive id an integer column can hold; anything larger is a 404, never a
    query that PostgreSQL refuses."""

    def __init__(self, url_map, max: int = INT4_MAX, **kwargs):  # noqa: A002 - werkzeug's name
        super().__init__(url_map, min=1, max=max, **kwargs)


class BigIdConverter(IdConverter):
    """``<bigint:…>``: the same for bigint ids (audit entries)."""

    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, max=INT8_MAX, **kwargs)


def register_converters(app) -> None:
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["bigint"] = BigIdConverter


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for Microsoft or an administrator's inbox: PUBLIC_URL when set (always in
    production), else the request's own host (development)."""
    from listening.web import deps

    public = deps.services().settings.public_url
    if public:
        return public + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
