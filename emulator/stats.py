"""Request counters for GET /_emulator/stats: per endpoint, per mailbox, per status, concurrency."""
from __future__ import annotations

import threading
from collections import Counter


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.by_endpoint: Counter = Counter()
            self.by_mailbox: Counter = Counter()
            self.by_status: Counter = Counter()
            self.in_flight: Counter = Counter()
            self.peak: Counter = Counter()
            self.total = 0

    def record(self, endpoint: str, mailbox: str | None, status: int) -> None:
        with self.lock:
            self.total += 1
            self.by_endpoint[endpoint] += 1
            self.by_status[str(status)] += 1
            if mailbox:
                self.by_mailbox[mailbox] += 1

    def enter(self, mailbox: str) -> int:
        """Count a request in flight on `mailbox`; return how many are now in flight (with it)."""
        with self.lock:
            self.in_flight[mailbox] += 1
            now = self.in_flight[mailbox]
            self.peak[mailbox] = max(self.peak[mailbox], now)
            return now

    def leave(self, mailbox: str) -> None:
        with self.lock:
            self.in_flight[mailbox] -= 1

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": self.total, "by_endpoint": dict(self.by_endpoint),
                    "by_mailbox": dict(self.by_mailbox), "by_status": dict(self.by_status),
                    "peak_concurrency": dict(self.peak)}
