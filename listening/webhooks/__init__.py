"""Outbound events (Standard Webhooks) for the systems that act on the 1-on-1s.

- ``endpoints``: where an organization's events go (address checks, the ``whsec_`` secret);
- ``outbox``: an event and its deliveries, written in the transaction of their cause;
- ``dispatch``: queues the deliveries right after that transaction commits;
- ``delivery``: one attempt (lease, signed post, outcome), retries with backoff for 24 hours,
  410 and five days of failures disable the endpoint;
- ``signing`` (the ``standardwebhooks`` library) and ``transport`` (no redirects, timeouts,
  no private addresses in production);
- ``queueing``: how delivery jobs are queued (they run in jobs/webhooks.py).

What causes the events lives with the cause: listening/one_on_ones/announce.py.
"""
