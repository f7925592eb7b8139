"""Change and lifecycle notifications: who is subscribed, what is queued, and delivery (§9).

The World tells `changed()` about every change to an item; each matching subscription gathers
notifications for GATHER_SECONDS and then gets one POST per MAX_BATCH of them. A scheduler thread
hands due POSTs to a thread pool (at most `concurrency` in flight), retries failures with
exponential backoff for up to 4 hours, and then drops them and sends `missed`. Every time is on the
emulator clock, so advancing it (POST /_emulator/clock) makes retries, expiry and
reauthorizationRequired challenges come due at once. Nothing runs until the first subscription.
"""
from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson

from .events import item_etag
from .subscriptions import Subscription, stamp
from .webhooks import Attempt

GATHER_SECONDS = 0.1      # changes to one subscription this close together share a POST
MAX_BATCH = 100           # notifications per POST
RETRY_FIRST = 60.0        # first retry a minute after a failure, then 2, 4, 8... minutes
RETRY_WINDOW = 4 * 3600   # Graph gives up after 4 hours (§9)
CHALLENGE_LEAD = 15 * 60  # reauthorizationRequired this long before access or the subscription lapses
CHALLENGE_EVERY = 15 * 60  # and again this often until the app reauthorizes or renews
LOG_SIZE = 2000
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


@dataclass(eq=False)
class Delivery:
    url: str
    kind: str                # "change" or "lifecycle"
    subscription_id: str
    items: list
    first: float             # emulator time it was first due
    generation: int
    attempt: int = 0


class Notifier:
    def __init__(self, clock, tokens, webhooks, concurrency: int = DEFAULT_CONCURRENCY):
        self.clock, self.tokens, self.webhooks = clock, tokens, webhooks
        self.subs: dict[str, Subscription] = {}
        self.by_mailbox: dict[str, tuple[str, ...]] = {}   # oid -> subscription ids
        self.gathering: dict[str, list[dict]] = {}         # subscription id -> notifications
        self.queue: list = []   # heap of (due, seq, Delivery or a subscription id to flush)
        self.seq = itertools.count()
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.in_flight = 0
        self.concurrency = self.default_concurrency = concurrency
        self.generation = 0
        self.next_sweep = math.inf
        self.log: deque = deque(maxlen=LOG_SIZE)
        self.log_seq = 0
        self.counts: Counter = Counter()
        self.closed = False

    # --- subscriptions -----------------------------------------------------------------------
    def add(self, sub: Subscription) -> None:
        with self.cond:
            self.subs[sub.id] = sub
            self.by_mailbox[sub.oid] = self.by_mailbox.get(sub.oid, ()) + (sub.id,)
            self._resweep()

    def get(self, sub_id: str) -> Subscription | None:
        with self.cond:
            return self.subs.get(sub_id)

    def owned_by(self, client_id: str, oid: str) -> list[Subscription]:
        with self.cond:
            return [s for s in self.subs.values() if s.client_id == client_id and s.oid == oid]

    def all(self) -> list[Subscription]:
        with self.cond:
            return list(self.subs.values())

    def renew(self, sub: Subscription, expires: float, token) -> None:
        """PATCH: a new expiry, and (like reauthorize) the caller's token becomes the authority."""
        with self.cond:
            sub.expires = expires
            self._reauthorize(sub, token)

    def reauthorize(self, sub: Subscription, token) -> None:
        with self.cond:
            self._reauthorize(sub, token)

    def _reauthorize(self, sub: Subscription, token) -> None:
        sub.authority = token
        sub.challenged = self.clock.now()  # the next challenge no sooner than CHALLENGE_EVERY
        self._resweep()

    def remove(self, sub_id: str, event: str | None = None) -> Subscription | None:
        """Delete a subscription (and what it still had to deliver); optionally tell its
        lifecycle URL, e.g. subscriptionRemoved."""
        with self.cond:
            sub = self.subs.pop(sub_id, None)
            if sub is None:
                return None
            rest = tuple(i for i in self.by_mailbox.get(sub.oid, ()) if i != sub_id)
            if rest:
                self.by_mailbox[sub.oid] = rest
            else:
                self.by_mailbox.pop(sub.oid, None)
            self.gathering.pop(sub_id, None)  # queued POSTs are skipped when they come due
            if event:
                self._lifecycle(sub, event)
            self._resweep()
            return sub

    def remove_user(self, oid: str, event: str | None = None) -> list[str]:
        with self.cond:
            ids = list(self.by_mailbox.get(oid, ()))
            for sub_id in ids:
                self.remove(sub_id, event)
            return ids

    def lifecycle(self, sub: Subscription, event: str) -> bool:
        """Send a lifecycle event now; False when the subscription has no lifecycle URL."""
        with self.cond:
            if event == "reauthorizationRequired":
                sub.challenged = self.clock.now()
            return self._lifecycle(sub, event)

    def access_until(self, sub: Subscription) -> float:
        return self.tokens.access_expiry(sub.authority)

    # --- changes -----------------------------------------------------------------------------
    def changed(self, copy, kind: str) -> None:
        """World.on_change: queue a notification for each subscription on the copy's mailbox."""
        oid = copy.owner.oid
        if oid not in self.by_mailbox:  # no subscription: the common case costs one lookup
            return
        now = self.clock.now()
        etag = item_etag(copy)
        with self.cond:
            for sub_id in self.by_mailbox.get(oid, ()):
                sub = self.subs[sub_id]
                if kind not in sub.change_types or now >= sub.expires:
                    continue
                if now >= self.access_until(sub):
                    self.counts["lost"] += 1  # delivery is paused until the app reauthorizes
                    continue
                batch = self.gathering.get(sub_id)
                if batch is None:
                    batch = self.gathering[sub_id] = []
                    self._push(now + GATHER_SECONDS, sub_id)
                batch.append(sub.change(copy.id, kind, etag))
                sub.pending += 1
                self.counts["queued"] += 1
            self.cond.notify()

    # --- control -----------------------------------------------------------------------------
    def wake(self, resweep: bool = False) -> None:
        """The clock moved (or tokens changed): look again at what is due."""
        with self.cond:
            if resweep:
                self._resweep()
            self.cond.notify()

    def set_concurrency(self, limit: int) -> None:
        with self.cond:
            self.concurrency = max(1, min(int(limit), MAX_CONCURRENCY))
            self.cond.notify()

    def reset(self, forget: bool = False) -> None:
        """Drop queued and retrying deliveries, the log and the counts; `forget` also drops
        every subscription. POSTs already in flight finish but are no longer recorded."""
        with self.cond:
            self.generation += 1
            self.queue.clear()
            self.gathering.clear()
            self.log.clear()
            self.counts.clear()
            self.concurrency = self.default_concurrency
            for sub in self.subs.values():
                sub.pending = 0
            if forget:
                self.subs.clear()
                self.by_mailbox.clear()
            self._resweep()

    def record(self, kind: str, url: str, sub_ids: list[str], count: int, attempt: int,
               status: int | None, outcome: str, **extra) -> None:
        with self.cond:
            self._record(kind, url, sub_ids, count, attempt, status, outcome, **extra)

    def summary(self) -> dict:
        with self.cond:
            waiting = sum(len(b) for b in self.gathering.values())
            retrying = 0
            for _, _, job in self.queue:
                if isinstance(job, Delivery) and job.kind == "change":
                    waiting += len(job.items)
                    retrying += len(job.items) if job.attempt else 0
            c = self.counts
            return {"subscriptions": len(self.subs), "queued": c["queued"], "waiting": waiting,
                    "retrying": retrying, "in_flight": self.in_flight, "posts": c["posts"],
                    "failed_posts": c["failed_posts"], "delivered": c["delivered"],
                    "dropped": c["dropped"], "lost": c["lost"],
                    "lifecycle_sent": c["lifecycle_sent"], "concurrency": self.concurrency}

    def deliveries(self, since: int = 0) -> list[dict]:
        with self.cond:
            return [entry for entry in self.log if entry["seq"] > since]

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.webhooks.close()

    # --- the scheduler (all under self.cond) -------------------------------------------------
    def _start(self) -> None:
        if self.thread is None and not self.closed:
            self.pool = ThreadPoolExecutor(MAX_CONCURRENCY, thread_name_prefix="emulator-notify")
            self.thread = threading.Thread(target=self._run, name="emulator-notifier",
                                           daemon=True)
            self.thread.start()

    def _resweep(self) -> None:
        self.next_sweep = -math.inf
        if self.subs:
            self._start()
        self.cond.notify()

    def _push(self, due: float, job) -> None:
        heapq.heappush(self.queue, (due, next(self.seq), job))
        self._start()

    def _run(self) -> None:
        with self.cond:
            while not self.closed:
                now = self.clock.now()
                if now >= self.next_sweep:
                    self._sweep(now)
                self._dispatch(now)
                self.cond.wait(self._wait(now))

    def _wait(self, now: float) -> float | None:
        due = self.next_sweep
        if self.queue:
            top, _, job = self.queue[0]
            if top > now or not isinstance(job, Delivery) or self.in_flight < self.concurrency:
                due = min(due, top)
        if due == math.inf:
            return None  # nothing scheduled: sleep until told
        return min(max(due - now, 0.0), 60.0)

    def _dispatch(self, now: float) -> None:
        while self.queue and self.queue[0][0] <= now:
            job = self.queue[0][2]
            if isinstance(job, Delivery) and self.in_flight >= self.concurrency:
                return
            heapq.heappop(self.queue)
            if not isinstance(job, Delivery):
                self._flush(job, now)
            elif job.kind == "lifecycle" or job.subscription_id in self.subs:
                self.in_flight += 1
                self.pool.submit(self._attempt, job)

    def _flush(self, sub_id: str, now: float) -> None:
        items = self.gathering.pop(sub_id, None)
        sub = self.subs.get(sub_id)
        if not items or sub is None:
            return
        for i in range(0, len(items), MAX_BATCH):
            self._push(now, Delivery(sub.notification_url, "change", sub_id,
                                     items[i:i + MAX_BATCH], now, self.generation))

    def _attempt(self, job: Delivery) -> None:
        """On a pool thread: one POST, then its consequences under the lock."""
        try:
            result = self.webhooks.deliver(job.url, orjson.dumps({"value": job.items}))
        except Exception as exc:  # noqa: BLE001  (a lost in_flight count would stall delivery)
            result = Attempt(False, None, f"error ({type(exc).__name__})")
        with self.cond:
            self.in_flight -= 1
            if job.generation == self.generation and not self.closed:
                self._settle(job, result, self.clock.now())
            self.cond.notify()

    def _settle(self, job: Delivery, result, now: float) -> None:
        job.attempt += 1
        count = len(job.items)
        sub = self.subs.get(job.subscription_id)
        self.counts["posts"] += 1
        retry_at = None
        if result.ok:
            self.counts["lifecycle_sent" if job.kind == "lifecycle" else "delivered"] += count
        else:
            self.counts["failed_posts"] += 1
            retry_at = now + RETRY_FIRST * 2 ** (job.attempt - 1)
            if retry_at - job.first > RETRY_WINDOW or (job.kind == "change" and sub is None):
                retry_at = None
        dropped = not result.ok and retry_at is None
        self._record(job.kind, job.url, [job.subscription_id], count, job.attempt, result.status,
                     result.outcome, next_attempt=stamp(retry_at) if retry_at else None,
                     dropped=dropped,
                     **({"lifecycleEvent": job.items[0]["lifecycleEvent"]}
                        if job.kind == "lifecycle" else {}))
        if retry_at is not None:
            self._push(retry_at, job)
            return
        if job.kind == "change" and sub is not None:
            sub.pending -= count
        if dropped and job.kind == "change":
            self.counts["dropped"] += count
            if sub is not None:
                self._lifecycle(sub, "missed")

    def _sweep(self, now: float) -> None:
        """Expire subscriptions and send reauthorizationRequired challenges that are due."""
        upcoming = math.inf
        for sub in list(self.subs.values()):
            if now >= sub.expires:
                self.remove(sub.id)  # expiry is silent at Microsoft too
                continue
            upcoming = min(upcoming, sub.expires)
            if not sub.lifecycle_url:
                continue
            due = self._challenge_due(sub)
            if now >= due:
                sub.challenged = now
                self._lifecycle(sub, "reauthorizationRequired")
                due = now + CHALLENGE_EVERY
            upcoming = min(upcoming, due)
        self.next_sweep = upcoming

    def _challenge_due(self, sub: Subscription) -> float:
        """CHALLENGE_LEAD before the access token or the subscription lapses, whichever is
        first; after a challenge (or a reauthorization) no sooner than CHALLENGE_EVERY later."""
        first = min(self.access_until(sub), sub.expires) - CHALLENGE_LEAD
        return first if sub.challenged is None else max(first, sub.challenged + CHALLENGE_EVERY)

    def _lifecycle(self, sub: Subscription, event: str) -> bool:
        if not sub.lifecycle_url:
            return False
        now = self.clock.now()
        self._push(now, Delivery(sub.lifecycle_url, "lifecycle", sub.id, [sub.lifecycle(event)],
                                 now, self.generation))
        self.cond.notify()
        return True

    def _record(self, kind, url, sub_ids, count, attempt, status, outcome, **extra) -> None:
        self.log_seq += 1
        self.log.append({"seq": self.log_seq, "time": stamp(self.clock.now()), "kind": kind,
                         "url": url, "subscriptions": sub_ids, "count": count,
                         "attempt": attempt, "status": status, "outcome": outcome, **extra})
