"""What the use cases need, built once per process and passed in.

``create_app`` (the web process and every ``flask`` command), the RQ worker and the
clock (jobs/runtime.py) each call ``build(settings)`` once and hand the result to
the use cases, which never look anything up themselves: no use case needs Flask,
and each runs in a plain test with the pieces it is given.
"""
from __future__ import annotations

from dataclasses import dataclass

from listening.core.config import ConfigError, Settings
from listening.core.crypto import CryptoError, KeyRing
from listening.core.db import Database
from listening.core.queue import JobQueue
from listening.outlook.graph import GraphClients
from listening.outlook.tokens import TokenEndpoint, Tokens
from listening.webhooks import dispatch, queueing


@dataclass(frozen=True)
class Services:
    settings: Settings
    keys: KeyRing          # encryption at rest (tokens, stored events), the audit chain's HMAC keys
    db: Database           # sessions and the unit of work; opened on first use
    jobs: JobQueue         # RQ on Redis; opened on first use
    graph: GraphClients    # one GraphClient per mailbox
    tokens: Tokens         # a connection's tokens: stored encrypted, refreshed at Microsoft


def build(settings: Settings, *, redis_patience: float = 0.0) -> Services:
    """Everything wired from ``settings``. A bad key ring stops the process here, before it
    serves anything; nothing connects to the database, Redis or Microsoft yet.
    ``redis_patience``: seconds a Redis command keeps reconnecting before it fails (the
    worker and clock ride out a Redis restart; the web process answers at once)."""
    try:
        keys = KeyRing.from_settings(settings)
    except CryptoError as err:
        raise ConfigError(f"LISTENING_KEYS: {err}") from None
    db = Database(settings.database_url, settings.instance_path, keys=keys,
                  owner_url=settings.database_owner_url, refuse_privileged=settings.production)
    jobs = JobQueue(settings.redis_url, settings.instance_path, settings.queue_prefix, redis_patience)
    # Outbound events recorded by any session are queued the moment that session commits.
    dispatch.install(db, lambda ids: queueing.enqueue(jobs, ids))
    return Services(
        settings=settings, keys=keys, db=db, jobs=jobs,
        graph=GraphClients(settings),
        tokens=Tokens(keys, TokenEndpoint(settings)),
    )
