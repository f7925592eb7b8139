"""What the two notification endpoints do with Graph's POSTs, without Flask.

Graph wants a 2xx within 3 seconds (docs/microsoft-graph.md §9), so a POST is only checked and
queued, never worked on: each notification must name a subscription of ours, carry its
``clientState`` (compared in constant time with our decrypted copy) and our connection's
tenant. A POST with anything else in it is refused whole (4xx) and nothing of it is queued.
Refusals are counted per hour and reason in Redis, never written to an audit log: the
endpoint is open to the internet, and a flood must not become a flood of rows.

Valid change notifications are remembered an hour by (subscription, change, item, etag), so
a replayed one queues nothing; the rest become one debounced sync per mailbox (queue.py).
While Redis (or, for a subscription not looked up lately, the database) is down nothing can be
queued: the answer is 503 and Graph retries later.

Per POST: one cached look-up per subscription (an indexed read on a miss) and three Redis
round trips; an RQ job only for the first notification of a burst.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from listening.core import crypto
from listening.notifications import queue, store
from listening.notifications.subscriptions import client_state_aad

if TYPE_CHECKING:
    from listening.services import Services

log = logging.getLogger(__name__)
MAX_ITEMS = 1000             # Graph sends at most 100 per POST; more is not Graph
MAX_TOKEN = 1024             # a validation token is ~110 characters
CACHE_SECONDS = 60.0         # how long a subscription's look-up is reused (a deletion takes this long
CACHE_SIZE = 100_000         # to reach every web process; a deleted calendar's sync then just skips)
SEEN_SECONDS = 3600          # how long a notification is remembered against replays
REFUSALS_KEPT = 8 * 86400
CHANGE_TYPES = frozenset(("created", "updated", "deleted"))
LIFECYCLE_EVENTS = frozenset(("reauthorizationRequired", "subscriptionRemoved", "missed"))


@dataclass(frozen=True)
class Answer:
    status: int
    text: str = ""


ACCEPTED = Answer(202)
UNAVAILABLE = Answer(503, "unavailable, retry later")


class Refused(Exception):
    def __init__(self, reason: str, status: int = 403):
        super().__init__(reason)
        self.reason, self.status = reason, status


@dataclass(frozen=True)
class _Subscription:
    connection_id: int
    tenant_id: str
    client_state: bytes


class Intake:
    """One per web process: it holds the cache of subscription look-ups."""

    def __init__(self, services: Services, clock=time.monotonic):
        self.services, self._clock = services, clock
        self._cache: dict[str, tuple[float, _Subscription | None]] = {}
        self._lock = threading.Lock()

    # --- the endpoints --------------------------------------------------------------------------
    @staticmethod
    def validation(token: str) -> Answer:
        """Graph's handshake: the decoded token back as text/plain, 200 (§9)."""
        if not token or len(token) > MAX_TOKEN:
            return Answer(400, "bad validation token")
        return Answer(200, token)

    def changes(self, body: bytes) -> Answer:
        try:
            items = self._checked(body)
            for item in items:
                if item.get("changeType") not in CHANGE_TYPES:
                    raise Refused("bad_item", 400)
        except Refused as refusal:
            return self._refuse(refusal)
        except SQLAlchemyError:
            log.warning("change notifications not checked: database unreachable; Graph will retry")
            return UNAVAILABLE
        try:
            self._queue_changes(items)
        except RedisError:
            log.warning("change notifications not accepted: Redis unreachable; Graph will retry")
            return UNAVAILABLE
        return ACCEPTED

    def lifecycle(self, body: bytes) -> Answer:
        try:
            items = self._checked(body)
        except Refused as refusal:
            return self._refuse(refusal)
        except SQLAlchemyError:
            log.warning("lifecycle notifications not checked: database unreachable; Graph will retry")
            return UNAVAILABLE
        try:
            for item in items:
                event = item.get("lifecycleEvent")
                if event in LIFECYCLE_EVENTS:
                    queue.lifecycle_event(self.services, item["subscriptionId"], event)
                else:  # Microsoft may add events; one we do not know asks nothing of us
                    log.info("lifecycle event %r ignored", str(event)[:40])
            self._count({"lifecycle": len(items)})
        except RedisError:
            log.warning("lifecycle notifications not accepted: Redis unreachable; Graph will retry")
            return UNAVAILABLE
        return ACCEPTED

    # --- checking --------------------------------------------------------------------------------
    def _checked(self, body: bytes) -> list[dict]:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Refused("not_json", 400) from None
        items = document.get("value") if isinstance(document, dict) else None
        if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
            raise Refused("no_value", 400)
        for item in items:
            self._check(item)
        return items

    def _check(self, item) -> None:
        if not isinstance(item, dict):
            raise Refused("bad_item", 400)
        subscription_id, client_state = item.get("subscriptionId"), item.get("clientState")
        tenant_id = item.get("tenantId")
        # Graph's ids are GUIDs; one PostgreSQL cannot even be asked about (NUL) is not Graph's.
        if not (isinstance(subscription_id, str) and 0 < len(subscription_id) <= 128
                and subscription_id.isprintable()
                and isinstance(client_state, str) and len(client_state) <= 128):
            raise Refused("bad_item", 400)
        known = self._subscription(subscription_id)
        if known is None:
            raise Refused("unknown_subscription")
        if not hmac.compare_digest(client_state.encode(), known.client_state):
            raise Refused("wrong_client_state")
        if not isinstance(tenant_id, str) or tenant_id.lower() != known.tenant_id:
            raise Refused("wrong_tenant")
        item["_connection_id"] = known.connection_id

    def _subscription(self, subscription_id: str) -> _Subscription | None:
        now = self._clock()
        cached = self._cache.get(subscription_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = store.lookup(self.services.db.engine, subscription_id)
        known = None
        if found is not None:
            try:
                state = self.services.keys.decrypt(found.client_state, client_state_aad(found.connection_id))
            except crypto.CryptoError as err:
                log.error("the clientState of connection %s cannot be decrypted: %s", found.connection_id, err)
                return None
            known = _Subscription(found.connection_id, found.tenant_id, state)
        if known is not None:  # unknown ids are not cached: a new subscription's first POST may race its commit
            with self._lock:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                self._cache[subscription_id] = (now + CACHE_SECONDS, known)
        return known

    def forget(self, subscription_id: str) -> None:
        self._cache.pop(subscription_id, None)

    # --- queueing and counting -------------------------------------------------------------------
    def _queue_changes(self, items: list[dict]) -> None:
        redis, prefix = self.services.jobs.redis, self.services.jobs.prefix
        keys = [prefix + "notify:seen:" + _fingerprint(item) for item in items]
        pipe = redis.pipeline(transaction=False)
        for key in keys:
            pipe.exists(key)
        seen = pipe.execute()
        fresh = [item for item, was_seen in zip(items, seen) if not was_seen]
        queue.sync_after_changes(self.services, (item["_connection_id"] for item in fresh))
        # Remembered only once queued: should queueing fail, Graph's retry is not mistaken for a replay.
        pipe = redis.pipeline(transaction=False)
        for key, was_seen in zip(keys, seen):
            if not was_seen:
                pipe.set(key, 1, ex=SEEN_SECONDS)
        _counts(pipe, prefix, {"accepted": len(fresh), "replayed": len(items) - len(fresh)})
        pipe.execute()

    def _count(self, counts: dict) -> None:
        pipe = self.services.jobs.redis.pipeline(transaction=False)
        _counts(pipe, self.services.jobs.prefix, counts)
        pipe.execute()

    def refuse(self, reason: str, status: int) -> Answer:
        return self._refuse(Refused(reason, status))

    def _refuse(self, refusal: Refused) -> Answer:
        prefix = self.services.jobs.prefix
        hour = datetime.now(UTC).strftime("%Y%m%d%H")
        try:
            pipe = self.services.jobs.redis.pipeline(transaction=False)
            pipe.hincrby(f"{prefix}notify:refused:{hour}", refusal.reason, 1)
            pipe.expire(f"{prefix}notify:refused:{hour}", REFUSALS_KEPT)
            _counts(pipe, prefix, {"refused": 1})
            pipe.execute()
        except RedisError:
            log.warning("a refused notification could not be counted: Redis unreachable")
        return Answer(refusal.status, "refused")


def _fingerprint(item: dict) -> str:
    data = item.get("resourceData") if isinstance(item.get("resourceData"), dict) else {}
    parts = (item.get("subscriptionId"), item.get("changeType"), item.get("resource"), data.get("id"),
             data.get("@odata.etag"))
    return hashlib.sha256(orjson.dumps([p if isinstance(p, str) else None for p in parts])).hexdigest()[:32]


def _counts(pipe, prefix: str, counts: dict) -> None:
    for name, value in counts.items():
        if value:
            pipe.hincrby(prefix + "notify:counts", name, value)


def counts(services: Services) -> dict[str, int]:
    """Running totals: accepted, replayed, refused, lifecycle notifications."""
    raw = services.jobs.redis.hgetall(services.jobs.prefix + "notify:counts")
    return {k.decode(): int(v) for k, v in raw.items()}


def refusals(services: Services, hours: int = 24) -> dict[str, int]:
    """Refused POSTs by reason over the last ``hours`` hours."""
    from datetime import timedelta

    now, total = datetime.now(UTC), {}
    pipe = services.jobs.redis.pipeline(transaction=False)
    for back in range(hours):
        pipe.hgetall(f"{services.jobs.prefix}notify:refused:{(now - timedelta(hours=back)):%Y%m%d%H}")
    for bucket in pipe.execute():
        for reason, n in bucket.items():
            total[reason.decode()] = total.get(reason.decode(), 0) + int(n)
    return total
