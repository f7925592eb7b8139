"""Rate limits (Flask-Limiter), counted in the Redis the app already uses.

One ``limiter`` for the whole app; views opt in with ``limiter.limit(...)``. Counts live
under the deployment's queue prefix, so tests (and two deployments sharing a Redis) keep
apart. With no REDIS_URL (a laptop's ``flask run``, where the embedded Valkey would only
start on first use) they are counted in the process's memory instead; production always
has REDIS_URL (config.Settings.check).
"""
from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, strategy="moving-window", headers_enabled=False)


def init_app(app, settings) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", settings.queue_prefix + "ratelimit")
    # Socket timeouts like every other Redis call of the app (queue.RedisHolder).
    if settings.redis_url:
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 5, "socket_connect_timeout": 5})
    limiter.init_app(app)
