"""Rate limits (Flask-Limiter), counted in the Redis the app already uses.

One ``limiter`` for the whole app; views opt in with ``limiter.limit(...)``. Counts live
under the deployment's queue prefix, so tests (and two deployments sharing a Redis) keep
apart. With no REDIS_URL (a laptop's ``flask run``, where the embedded Valkey would only
start on first use) they are counted in the process's memory instead; production always
has REDIS_URL (config.Settings.check).

The pages' presses that reach Microsoft or write the audit log are limited per person (Check
connection, Refresh now, directory import), sign-in starts and approval links per address;
their limits are settings (RATE_LIMIT_*), and the page a refused press gets says when the
person can try again. A limit that cannot be checked (Redis down) never stops anyone.
"""
from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta

from flask import current_app, g, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many

from listening.core.when import zone_of
from listening.web import deps
from listening.web.security import client_ip

log = logging.getLogger(__name__)
limiter = Limiter(key_func=get_remote_address, strategy="moving-window", headers_enabled=False)


def by_person() -> str:
    person = g.get("person")
    return f"person:{person.id}" if person is not None else by_address()


def by_address() -> str:
    return f"address:{client_ip(request.remote_addr) or 'unknown'}"


def setting(name: str):
    """A limit read from the app's settings at each request (so each app has its own)."""
    return lambda: getattr(deps.services().settings, name)


def failures_refused(limit: str, key: str) -> int | None:
    """Seconds until ``key`` may try again when its failures used up ``limit``; None while it may.
    Only failures are counted (``count_failure``), so a client that succeeds is never held up."""
    items, ident = parse_many(limit), _failure_ident(key)
    try:
        full = [item for item in items if not limiter.limiter.test(item, *ident)]
        if not full:
            return None
        reset = max(limiter.limiter.get_window_stats(item, *ident).reset_time for item in full)
    except Exception as err:  # as RATELIMIT_SWALLOW_ERRORS: a limit that cannot be checked stops nobody
        log.warning("failure limit not checked: %s", type(err).__name__)
        return None
    return max(1, math.ceil(reset - time.time()))


def count_failure(limit: str, key: str) -> None:
    ident = _failure_ident(key)
    try:
        for item in parse_many(limit):
            limiter.limiter.hit(item, *ident)
    except Exception as err:  # as above
        log.warning("failure not counted: %s", type(err).__name__)


def _failure_ident(key: str) -> tuple[str, str]:
    return current_app.config["RATELIMIT_KEY_PREFIX"] + "failures", key


def init_app(app, settings) -> None:
    """The limits themselves were checked with the settings (config.from_env)."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", settings.queue_prefix + "ratelimit")
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    # Socket timeouts like every other Redis call of the app (queue.RedisHolder).
    if settings.redis_url:
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 5, "socket_connect_timeout": 5})
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _too_many)


def _too_many(error):
    from listening.api import problems

    if problems.is_api_request():
        return problems.from_exception(error)
    current = limiter.current_limit
    wait = max(1, int((current.reset_at if current else time.time() + 60) - time.time()))
    person = g.get("person")
    zone = zone_of(person.time_zone if person is not None else None)
    when = datetime.now(UTC).astimezone(zone) + timedelta(seconds=wait)
    page = render_template(
        "message.html", title="Too many tries",
        message=f"You have done this too often in a short time ({error.description}). Nothing was "
                f"done this time. You can try again in {wait} seconds (at {when:%H:%M:%S}, {zone.key} time).")
    return page, 429, {"Retry-After": str(wait)}
