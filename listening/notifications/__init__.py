"""Graph change notifications: calendars kept fresh within seconds instead of re-read every hour.

- ``subscriptions``: one Graph subscription per linked calendar, created, renewed,
  reauthorized, recreated and deleted (the use cases behind jobs/notifications.py);
- ``intake``: what the two endpoints do with Graph's POSTs (web/graph_notifications.py);
- ``queue``: the jobs they queue (a debounced sync per mailbox, lifecycle events, upkeep);
- ``store``: the queries on ``graph_subscriptions``; ``status``: how fresh a calendar is kept.

Facts in docs/microsoft-graph.md §9. The package imports nothing on its own, so the sync can
ask ``status`` how often to poll without an import cycle.
"""
