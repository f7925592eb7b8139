"""Rate limits (Flask-Limiter on the app's Redis): presses that reach Microsoft or write the
audit log are limited per person, sign-in starts and approval links per address. The limits
are settings (RATE_LIMIT_*, listening/core/config.py). The page a refused press gets says
when the person can try again."""
from __future__ import annotations

import time

from flask import g, render_template, request
from flask_limiter import Limiter, RateLimitExceeded

from listening.web import deps
from listening.web.security import client_ip


def by_person() -> str:
    person = g.get("person")
    return f"person:{person.id}" if person is not None else by_address()


def by_address() -> str:
    return f"address:{client_ip(request.remote_addr) or 'unknown'}"


limiter = Limiter(key_func=by_address)


def setting(name: str):
    """A limit read from the app's settings at each request (so each app has its own)."""
    return lambda: getattr(deps.services().settings, name)


def init_app(app, settings) -> None:
    from limits import parse_many

    from listening.core.config import ConfigError

    for name in ("rate_limit_check", "rate_limit_refresh", "rate_limit_sign_in", "rate_limit_approval",
                 "rate_limit_import"):
        try:
            parse_many(getattr(settings, name))
        except ValueError:
            raise ConfigError(f"{name.upper()} must be a limit such as '6 per minute', "
                              f"got {getattr(settings, name)!r}") from None
    app.config.update(
        # Without REDIS_URL (the embedded store, started on first use) limits live in the process.
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_STORAGE_OPTIONS={"socket_timeout": 2, "socket_connect_timeout": 2},
        RATELIMIT_KEY_PREFIX=f"{settings.queue_prefix}limits",
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=True,
        # A limit that cannot be checked (Redis down) never stops a person.
        RATELIMIT_SWALLOW_ERRORS=True,
    )
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(error):
        current = limiter.current_limit
        wait = max(1, int((current.reset_at if current else time.time() + 60) - time.time()))
        when = time.strftime("%H:%M:%S UTC", time.gmtime(time.time() + wait))
        return render_template(
            "message.html", title="Too many tries",
            message=f"You have done this too often in a short time ({error.description}). Nothing was "
                    f"done this time. You can try again in {wait} seconds (at {when})."), 429
