"""RQ entry points. Each job opens a unit of work, calls a use case of listening/, commits,
then enqueues its follow-ups. Arguments are ids and primitives, never ORM objects or tokens.

- jobs.sync.sync_connection(connection_id, trigger)   queue "sync"
- jobs.sync.enqueue_due_syncs()                       queue "maintenance", every 15 s (jobs/cron.py)
- jobs.retention.purge_expired()                      queue "maintenance", daily (jobs/cron.py)
- jobs.webhooks.deliver(delivery_ids)                 queue "webhooks", queued after each commit
- jobs.webhooks.sweep()                               queue "maintenance", every minute
- jobs.webhooks.purge_old()                           queue "maintenance", daily
- jobs.notifications.*                                Graph change notifications (jobs/notifications.py)

Run them with the Procfile's ``worker`` and ``clock`` processes; jobs/runtime.py
builds the Services once per worker process (no Flask app).
"""
