"""The one way tests and benchmarks build the app (or its Services alone), and clean up after it.

Every test app talks to the run's own PostgreSQL database and Redis key prefix and
to an emulator over loopback; only what a test is about is given as an override.
Benchmarks build theirs the same way, outside Flask's testing mode (``TESTING=False``).
"""
from __future__ import annotations

import os

TEST_KEYS = os.environ.get("TEST_KEYS", "k1:" + "A" * 43 + "=")


def settings_for(database_url: str, redis_url: str | None, key_prefix: str, emulator_url: str | None,
                 instance_path, **overrides) -> dict:
    """Settings fields (listening/core/config.py) wired to these stores and this emulator (None: the
    settings' own Microsoft URLs, for what never calls Microsoft; a Redis URL of None: embedded)."""
    microsoft = {"ms_authority": emulator_url, "graph_url": emulator_url + "/v1.0"} if emulator_url else {}
    return {"database_url": database_url, "redis_url": redis_url, "queue_prefix": key_prefix, **microsoft,
            "instance_path": instance_path, "secret_key": "test-secret", "keys": TEST_KEYS, **overrides}


def make_app(database_url: str, redis_url: str | None, key_prefix: str, emulator_url: str | None,
             instance_path, **overrides):
    """``create_app`` wired by ``settings_for``. Lower-case overrides are Settings fields,
    upper-case ones Flask's config (``TESTING`` is on unless given)."""
    from listening import create_app

    return create_app({"TESTING": True}
                      | settings_for(database_url, redis_url, key_prefix, emulator_url, instance_path,
                                     **overrides))


def make_services(database_url: str, redis_url: str | None, key_prefix: str, emulator_url: str | None,
                  instance_path, **overrides):
    """The Services alone, built as the worker builds them: no Flask app exists at all."""
    from listening import services
    from listening.core import config

    settings = config.from_env(**settings_for(database_url, redis_url, key_prefix, emulator_url,
                                              instance_path, **overrides))
    settings.check()
    return services.build(settings)


def services_of(app):
    """The Services the app was built with (listening/services.py)."""
    return app.extensions["listening"]


def clean(app_or_services, key_prefix: str) -> None:
    """After a test: empty every table and delete the run's Redis keys.

    A Redis that does not answer (a test of exactly that) holds none of them."""
    from redis.exceptions import ConnectionError as RedisDown

    from listening.services import Services
    from tests.support.cleanup import empty_tables

    services = app_or_services if isinstance(app_or_services, Services) else services_of(app_or_services)
    services.db.dispose()
    empty_tables()  # as the superuser: the app's role may not TRUNCATE, and the audit log refuses it
    redis = services.jobs.redis
    try:
        keys = list(redis.scan_iter(f"*{key_prefix}*", count=1000))
    except RedisDown:
        return
    if keys:
        redis.delete(*keys)
