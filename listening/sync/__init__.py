"""Calendar sync: read a linked calendar's window from Graph and keep a trimmed, encrypted copy.

- ``mailbox``: the use case, ``run`` (one mailbox, one transaction);
- ``store``: the calendar_items writes (batched COPY, merge, deletes, the per-connection lock);
- ``queue``: one sync per connection queued at a time, with its timeouts and retries;
- ``retrim``: every stored copy trimmed again now, after the stored fields changed (``retrim.run``).

What of an event is kept (the trimmed copy) is listening/outlook/events.py.
"""
from listening.sync.mailbox import SyncReport, run, store_pages, window_for

__all__ = ["run", "SyncReport", "store_pages", "window_for"]
