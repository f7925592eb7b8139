"""The only module of listening/ that imports rq: Redis connection and enqueueing by dotted path.

Jobs are enqueued after the request's commit, with ids (never ORM objects or
tokens) as arguments, and with explicit timeouts and TTLs.
"""
from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue

QUEUE_SYNC = "sync"
QUEUE_MAINTENANCE = "maintenance"


def init_app(app) -> None:
    app.extensions["redis"] = Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def redis_conn(app=None) -> Redis:
    return (app or current_app).extensions["redis"]


def queue(name: str, app=None) -> Queue:
    app = app or current_app
    prefix = app.config["SETTINGS"].queue_prefix
    return Queue(prefix + name, connection=redis_conn(app))
