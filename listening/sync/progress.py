"""How far a running sync has got, for the page its owner is looking at.

The sync publishes the number of events read so far to one small Redis key per
connection, written once per Graph page and removed when the sync ends (it also
expires by itself, so a killed worker leaves nothing behind for long). Not a
database column: a sync is ONE transaction, so a count written in it stays
invisible to the page until the very end, and a count written in a transaction of
its own would contend for the connection row that the sync updates when it ends.
Whether a sync is waiting or running at all is RQ's own state of the connection's
one sync job (listening/sync/queue.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from listening.core.queue import JobQueue
from listening.sync.queue import JOB_TIMEOUT, sync_job_id

log = logging.getLogger(__name__)


def key(jobs: JobQueue, connection_id: int) -> str:
    return f"{jobs.prefix}sync-progress:{int(connection_id)}"


class Publisher:
    """``publish(events)`` after each page; ``done()`` at the end. Never fails nor delays the
    sync: it writes through a client that does not wait for Redis (JobQueue.hasty), and after
    one failure it stops trying, so a Redis that is away only costs the page its count."""

    def __init__(self, jobs: JobQueue, connection_id: int):
        self.jobs, self.key, self.broken = jobs, key(jobs, connection_id), False
        self._redis = None

    def _client(self):
        if self._redis is None:
            self._redis = self.jobs.hasty()
        return self._redis

    def publish(self, events: int) -> None:
        if self.broken:
            return
        try:
            self._client().set(self.key, int(events), ex=JOB_TIMEOUT)
        except Exception:  # noqa: BLE001 - RedisError, or an embedded Valkey that cannot start
            self.broken = True
            log.warning("sync progress not published: Redis unreachable")

    def done(self) -> None:
        if self.broken or self._redis is None:
            return  # nothing was written, or what was written expires by itself
        try:
            self._redis.delete(self.key)
        except Exception:  # noqa: BLE001 - it expires by itself
            pass
        finally:
            self._redis.close()


@dataclass(frozen=True)
class Activity:
    """A connection's sync as its owner sees it: waiting, reading (with events so far), or idle."""
    phase: str | None            # "waiting", "reading" or None
    events: int | None = None

    @property
    def running(self) -> bool:
        return self.phase is not None

    @property
    def words(self) -> str | None:
        if self.phase == "waiting":
            return "Waiting to read your calendar…"
        if self.phase == "reading":
            if not self.events:
                return "Reading your calendar…"
            return f"Reading your calendar… {self.events:,} event{'' if self.events == 1 else 's'}"
        return None


IDLE = Activity(None)


def activity(jobs: JobQueue, connection_id: int) -> Activity:
    """Is the connection's sync queued or running, and how many events has it read? A job
    waiting for a retry is 'scheduled': not running (the connection's reason says why)."""
    try:
        job = jobs.job(sync_job_id(connection_id))
        status = job.get_status(refresh=False) if job is not None else None
        status = getattr(status, "value", status)
        if status == "queued":
            return Activity("waiting")
        if status != "started":
            return IDLE
        raw = jobs.redis.get(key(jobs, connection_id))
    except RedisError:
        return IDLE  # the page still works; it just cannot say a sync is running
    return Activity("reading", int(raw) if raw is not None and raw.isdigit() else None)
