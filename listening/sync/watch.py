"""Why a running sync should give way, noticed while it runs.

Two reasons, answered the same way: the sync stops at once, its transaction rolls back
(nothing it read is kept), and it is recorded as what stopped it
(listening/outlook/connection.py):

- its worker is shutting down: the job's SIGTERM handler sets ``shutdown``
  (jobs/runtime.py), and the job is queued again for the next worker;
- someone waits for the connection lock (unlink, erasure: listening/core/locks.py),
  who must not wait on a sync that may still read a slow mailbox for minutes.

A thread looks every ``poll`` seconds, on a database connection of its own (the
sync's is busy with its statements). On either reason it interrupts the Graph read
(``on_stop`` callbacks), so even a wait on Retry-After or a slow page ends at once;
the sync also calls ``check()`` between pages.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from listening.core import locks
from listening.core.db import Database
from listening.outlook.connection import Failure, SyncStopped

log = logging.getLogger(__name__)
POLL = 0.5  # seconds between looks: unlink answers within a few seconds whatever the sync is doing


class Watch:
    def __init__(self, db: Database, connection_id: int, shutdown: threading.Event | None = None,
                 poll: float = POLL):
        self._db, self._connection_id, self._shutdown, self._poll = db, connection_id, shutdown, poll
        self._done = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.failure: Failure | None = None

    def __enter__(self) -> Watch:
        self._thread = threading.Thread(target=self._run, name="sync-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the sync must stop (at once if it already must)."""
        with self._lock:
            self._callbacks.append(callback)
            stopped = self.failure is not None
        if stopped:
            callback()

    def check(self) -> None:
        """Raise SyncStopped if the sync must give way."""
        if self.failure is not None:
            raise SyncStopped(self.failure)

    def _stop(self, failure: Failure) -> None:
        with self._lock:
            self.failure = failure
            callbacks = list(self._callbacks)
        log.info("sync of connection %s gives way: %s", self._connection_id, failure.value)
        for callback in callbacks:
            callback()

    def _run(self) -> None:
        conn = None
        try:
            while not self._done.is_set():
                if self._shutdown is not None and self._shutdown.is_set():
                    return self._stop(Failure.stopped_by_shutdown)
                conn, wanted = self._lock_wanted(conn)
                if wanted:
                    return self._stop(Failure.stopped_by_unlink)
                self._done.wait(self._poll)
        finally:
            if conn is not None:
                conn.close()

    def _lock_wanted(self, conn):
        """(connection to reuse, whether someone waits for the lock); a failed look counts as
        no (the sync itself will meet the same database trouble and say so)."""
        try:
            conn = conn or self._db.engine.connect()
            wanted = locks.wanted(conn, self._connection_id)
            conn.rollback()  # never sit idle in a transaction between looks
            return conn, wanted
        except Exception as exc:  # noqa: BLE001 - looked again at the next poll
            log.debug("could not look for waiters on connection %s: %s", self._connection_id,
                      type(exc).__name__)
            if conn is not None:
                conn.invalidate()
                conn.close()
            return None, False
