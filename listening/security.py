"""Who may do what: the signed-in person, role checks, CSRF on every form, security headers."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from listening import audit, db
from listening.models import Organization, Person, Role

csrf = CSRFProtect()


def init_app(app) -> None:
    csrf.init_app(app)
    # Forms that start a Microsoft sign-in redirect there; browsers apply form-action to that.
    authority = urlsplit(app.config["SETTINGS"].ms_authority)
    policy = ("default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
              f"form-action 'self' {authority.scheme}://{authority.netloc}")

    @app.before_request
    def _load_person():
        g.person = None
        audit.origin.set(audit.Origin(ip=request.remote_addr,
                                      user_agent=request.headers.get("User-Agent")))
        person_id, org_id = session.get("person_id"), session.get("org_id")
        if person_id is None:
            return
        # Scoped to the organization the session was issued for; a deactivated or
        # erased person loses access at their next request.
        person = db.session().scalar(select(Person).where(
            Person.id == person_id, Person.org_id == org_id, Person.active.is_(True)))
        if person is not None and _signed_out_since(person, session.get("signed_in_at")):
            person = None
        if person is None:
            session.clear()
        g.person = person

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", policy)
        return response


def requires(*roles: Role):
    """Sign-in required; with roles, the person must hold one of them (403 otherwise)."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("person") is None:
                return redirect(url_for("auth.start", next=request.full_path if request.method == "GET" else None))
            if roles and g.person.role not in roles:
                abort(403, description="This page is not available to your role.")
            return view(*args, **kwargs)
        return wrapper
    return decorate


def own_organization(sess) -> Organization:
    """The signed-in person's organization (404 if it is gone): the root of every scoped query."""
    org = sess.get(Organization, g.person.org_id)
    if org is None:
        abort(404)
    return org


def _signed_out_since(person: Person, signed_in_at) -> bool:
    """Did the person sign out after this session began? (Then every copy of it is dead.)"""
    if person.signed_out_at is None:
        return False
    if not isinstance(signed_in_at, (int, float)):
        return True  # a session without its start time cannot prove it is newer
    return signed_in_at <= person.signed_out_at.timestamp()
