"""Who may do what: the signed-in person, the hats they wear, CSRF on every form, security headers.

A person wears every hat that applies, whatever the directory's ``role`` column says
on its own: anyone with direct reports manages (the 1-on-1s page for them, Link
Outlook), an HR admin administers (the /admin pages), and everyone signed in sees
their own 1-on-1 with their manager.
"""
from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from listening import audit
from listening.core import store
from listening.core.models import Organization, Person, Role
from listening.web import deps

csrf = CSRFProtect()


def init_app(app, settings) -> None:
    # First of all: a request carrying bytes that no field of ours can hold is refused before
    # anything reads, writes or audits it.
    app.before_request(refuse_control_characters)
    # Registered before CSRFProtect's own check, so that a refused form already knows who sent
    # it and from where (web/one_on_ones.py audits it).
    app.before_request(_load_person)
    csrf.init_app(app)
    app.context_processor(lambda: {"hats": hats})
    # Forms that start a Microsoft sign-in redirect there; browsers apply form-action to that.
    authority = urlsplit(settings.ms_authority)
    # No inline script or style anywhere (static/live.js and static/listening.css only), so an
    # injected attribute or tag would do nothing; base-uri is not covered by default-src.
    policy = ("default-src 'self'; base-uri 'none'; frame-ancestors 'none'; "
              f"form-action 'self' {authority.scheme}://{authority.netloc}")

    production = settings.production

    @app.after_request
    def _headers(response):
        # Pages hold calendar, personal and audit data, and downloads hold more: nothing of ours
        # belongs in a browser's or a proxy's cache.
        response.headers.setdefault("Cache-Control", "no-store")
        if production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", policy)
        return response


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except under the app's sessionless prefixes, where no
    cookie is read and none is ever set (Flask never saves a null session)."""

    def open_session(self, app, request):
        if is_sessionless(request.path, app):
            return self.make_null_session(app)
        return super().open_session(app, request)


def sessionless(app, prefix: str) -> None:
    """Paths under ``prefix`` take no sign-in session: machine-to-machine endpoints."""
    app.extensions.setdefault("sessionless", []).append(prefix)
    app.session_interface = _Sessions()


def is_sessionless(path: str, app=None) -> bool:
    return path.startswith(tuple((app or current_app).extensions.get("sessionless", ())))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def refuse_control_characters() -> None:
    """400 for NUL, CR, LF or any other control character in the path, a query or form field
    (names and values) or an uploaded file's name: PostgreSQL cannot store NUL, and no field
    of ours holds a line break (a CR/LF in ``next`` would split the Location header). The
    uploaded files' content is the directory's to judge (it names the line)."""
    texts = [request.path, *(t for pair in request.args.items(multi=True) for t in pair)]
    if request.method in ("POST", "PUT", "PATCH"):
        texts += [t for pair in request.form.items(multi=True) for t in pair]
        texts += [upload.filename or "" for _, upload in request.files.items(multi=True)]
    if any(_CONTROL.search(text) for text in texts if text):
        abort(400, description="The request holds a control character (such as NUL or a line break) "
                               "where none can be. Nothing was done.")


class OnlyHost:
    """WSGI middleware: 400 for any Host header but the public URL's, before Flask sees the
    request (so no page, link or log line is ever made for a forged host)."""

    def __init__(self, wsgi_app, public_url: str):
        parts = urlsplit(public_url)
        self.app = wsgi_app
        default_port = 443 if parts.scheme == "https" else 80
        self.hosts = {parts.netloc.lower(), f"{parts.hostname}:{parts.port or default_port}".lower()}
        if parts.port in (None, default_port):
            self.hosts.add(parts.hostname.lower())

    def __call__(self, environ, start_response):
        host = (environ.get("HTTP_HOST") or "").lower()
        if host not in self.hosts:
            body = b"This address is not served here.\n"
            start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8"),
                                               ("Content-Length", str(len(body))),
                                               ("Cache-Control", "no-store")])
            return [body]
        return self.app(environ, start_response)


MANAGES = "manages"
ADMINISTERS = "administers"


@dataclass(frozen=True)
class Hats:
    """What the signed-in person may use."""
    manages: bool = False        # has direct reports (or is a manager in the directory)
    administers: bool = False    # an HR admin of their organization

    def wears(self, hat: str) -> bool:
        return bool(getattr(self, hat))


def hats_of(session, person: Person | None) -> Hats:
    if person is None:
        return Hats()
    return Hats(manages=person.role is Role.manager
                or store.has_direct_reports(session, person.org_id, person.id),
                administers=person.role is Role.hr_admin)


def hats() -> Hats:
    """The signed-in person's hats, worked out once per request."""
    if "hats" not in g:
        g.hats = hats_of(deps.session(), g.get("person"))
    return g.hats


def refusal(*needed: str):
    """None when the request may go on; else the answer: sign-in first, or 403 without the hat."""
    if g.get("person") is None:
        return redirect(url_for("auth.start", next=request.full_path if request.method == "GET" else None))
    if needed and not any(hats().wears(h) for h in needed):
        abort(403, description="This page is not one you can use. Ask your HR admin if you think "
                               "it should be.")
    return None


def requires(*needed: str):
    """Sign-in required; with hats (MANAGES, ADMINISTERS), the person must wear one of them."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            return refusal(*needed) or view(*args, **kwargs)
        return wrapper
    return decorate


def admin_guard():
    """``before_request`` of every blueprint under /admin: signed in, and an HR admin, then
    the form's CSRF token. In that order (such blueprints are exempt from CSRFProtect's own
    check, which would run first), so a signed-out visitor is sent to sign in and anyone
    else is refused for who they are, whatever the request carries."""
    answer = refusal(ADMINISTERS)
    if answer is None and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    return answer


def guarded_blueprint(bp, guard) -> None:
    """Install ``guard`` as the blueprint's first check, CSRF included (see admin_guard)."""
    csrf.exempt(bp)
    bp.before_request(guard)


def own_organization(sess) -> Organization:
    """The signed-in person's organization (404 if it is gone): the root of every scoped query."""
    org = sess.get(Organization, g.person.org_id)
    if org is None:
        abort(404)
    return org


# Blueprints that never act for a signed-in person: nothing is loaded for them, so a load
# balancer's probe answers the same with or without a session cookie.
ANONYMOUS_BLUEPRINTS = ("health",)


def _load_person() -> None:
    g.person = None
    if request.blueprint in ANONYMOUS_BLUEPRINTS or is_sessionless(request.path):
        return
    audit.origin.set(audit.Origin(ip=client_ip(request.remote_addr),
                                  user_agent=request.headers.get("User-Agent")))
    if request.path.startswith("/api/"):
        return  # bearer keys only (listening/api/views.py): the session cookie is never read
    person_id, org_id = session.get("person_id"), session.get("org_id")
    if person_id is None:
        return
    # Scoped to the organization the session was issued for; a deactivated or
    # erased person loses access at their next request.
    person = deps.session().scalar(select(Person).where(
        Person.id == person_id, Person.org_id == org_id, Person.active.is_(True)))
    if person is None or not _session_current(person, session, current_app.permanent_session_lifetime):
        session.clear()
        return
    g.person = person


def start_session(person: Person) -> None:
    """A fresh session for ``person``: nothing from before survives (session fixation)."""
    session.clear()
    session.permanent = True
    session.update(session_fields(person.id, person.org_id, person.session_version or 0))


def session_fields(person_id: int, org_id: int, version: int = 0) -> dict:
    """What a signed-in session holds (also for tests and benchmarks that sign in directly)."""
    return {"person_id": person_id, "org_id": org_id, "signed_in_at": int(time.time()),
            "session_version": version}


def _session_current(person: Person, cookie, lifetime: timedelta) -> bool:
    """Issued since the person's last sign-out, deactivation or erasure, and younger than the
    session lifetime counted from sign-in (Flask re-signs the cookie at every request, so its
    own expiry alone would let a used session live for ever). A session without these fields
    predates them: it is refused, and its holder signs in once more."""
    version, signed_in_at = cookie.get("session_version"), cookie.get("signed_in_at")
    if not isinstance(version, int) or version != (person.session_version or 0):
        return False
    if not isinstance(signed_in_at, (int, float)):
        return False
    age = time.time() - signed_in_at
    return -300 <= age < lifetime.total_seconds()  # a few minutes of clock skew between hosts


def client_ip(raw: str | None) -> str | None:
    """The client's address as PostgreSQL's inet accepts it, or None.

    Behind a proxy it comes from X-Forwarded-For, where some (Azure Application Gateway)
    write "address:port" or "[v6]:port"; anything that is not an address is not stored."""
    if not raw:
        return None
    candidate = raw.strip()
    if candidate.startswith("["):
        candidate = candidate[1:].split("]", 1)[0]
    elif candidate.count(":") == 1:
        candidate = candidate.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
