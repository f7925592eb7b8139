"""gunicorn's access log without secrets: the query strings of the OAuth callbacks (``code``,
``state``, ``admin_consent``) and the approval links' tokens (14-day bearer links) never reach
it. Used through listening/web/gunicorn_conf.py (the Procfile's and the demo's web process)."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from gunicorn.glogging import Logger

# Paths whose query string is a secret, and the path whose last segment is one.
CALLBACKS = ("/auth/callback", "/outlook/callback", "/outlook/adminconsent/callback")
APPROVAL = "/outlook/approve/"
REDACTED = "[redacted]"


def scrub_target(target: str) -> str:
    """A request target (path?query) or a URL, fit for the access log."""
    parts = urlsplit(target)
    path, query = parts.path, parts.query
    if path.startswith(APPROVAL):
        path = APPROVAL + REDACTED
    if query and path.rstrip("/") in CALLBACKS:
        query = REDACTED
    return urlunsplit(parts._replace(path=path, query=query))


class AccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        target = scrub_target(environ.get("RAW_URI") or environ.get("PATH_INFO") or "")
        path, _, query = target.partition("?")
        atoms["r"] = f"{environ['REQUEST_METHOD']} {target} {environ['SERVER_PROTOCOL']}"
        atoms["U"], atoms["q"] = path, query
        for key in ("f", "{referer}i"):  # a page of ours may be the referer of the next request
            if atoms.get(key) and atoms[key] != "-":
                atoms[key] = scrub_target(atoms[key])
        return atoms
