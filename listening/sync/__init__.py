"""Calendar sync: read a linked calendar's window from Graph and keep a trimmed, encrypted copy.

- ``run``: the use case (one mailbox, one transaction);
- ``store``: the calendar_items writes (batched COPY, merge, deletes, the per-connection lock);
- ``policy``: what an outcome does to its connection (pure);
- ``queue``: one sync per connection queued at a time, with its timeouts and retries;
- ``trim``: the stored copy's fields, and the ``$select`` that asks Graph for exactly those.
"""
from listening.sync.run import SyncReport, run, store_pages, window_for

__all__ = ["run", "SyncReport", "store_pages", "window_for"]
