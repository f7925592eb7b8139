"""Listening: a read-only 1-on-1 meeting finder for Microsoft 365.

``create_app`` reads like a table of contents: settings, the services the use
cases are given (listening/services.py), the web layer, the commands. Nothing
is created at import time, and nothing connects anywhere until first used.
"""
from __future__ import annotations

import secrets
from dataclasses import fields


def create_app(config: dict | None = None):
    """Build the Flask app. ``config``: lower-case keys override Settings fields
    (listening/core/config.py); upper-case keys go to Flask's config as they are."""
    from flask import Flask

    from listening import cli, services, web
    from listening.admin import directory
    from listening.core import config as config_mod
    from listening.core import logs

    config = dict(config or {})
    setting_names = {f.name for f in fields(config_mod.Settings)}
    overrides = {k: config.pop(k) for k in list(config) if k in setting_names}
    settings = config_mod.from_env(**overrides)
    settings.check()

    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key or _dev_secret(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        # __Host-: the browser takes it only from this exact host over HTTPS, with Path=/ and no
        # Domain, so a sibling subdomain cannot set or shadow the session cookie.
        SESSION_COOKIE_NAME="__Host-session" if settings.production else "session",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        # The largest upload is a directory CSV; the margin is for the multipart framing, so a
        # file just over the limit still reaches the page that explains it (directory.parse_csv).
        MAX_CONTENT_LENGTH=directory.MAX_BYTES + 64 * 1024,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
    )
    app.config.update(config)
    if settings.trusted_proxies:
        # Behind N proxies the client's address and the https scheme arrive in X-Forwarded-For
        # and -Proto; trusting more hops than really exist would let a client forge its audited
        # IP. Not X-Forwarded-Host: several load balancers pass the client's own through, and
        # the host goes into redirect URIs and approval links (proxies keep Host as it was).
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0)

    if settings.production:
        from listening.web.security import OnlyHost

        # Only PUBLIC_URL's host is answered in production (development answers any, for
        # localhost and 127.0.0.1 alike).
        app.wsgi_app = OnlyHost(app.wsgi_app, settings.public_url)
    logs.configure(settings.log_level)
    built = services.build(settings)
    if settings.production:
        # Opened now, so a role that could lift the audit log's protections (a superuser, the
        # tables' owner) stops the app before it serves anything.
        built.db.engine  # noqa: B018
    web.init_app(app, built)
    cli.init_app(app)
    return app


def _dev_secret(settings) -> str:
    """Outside production a missing SECRET_KEY is generated once and kept under instance/."""
    path = settings.instance_path / "secret_key"
    if not path.exists():
        settings.instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
