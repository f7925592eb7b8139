"""Settings module for the RQ command line (``-c jobs.rq_settings``), shared by worker and cron.

    rq worker --with-scheduler --worker-class rq.SimpleWorker -c jobs.rq_settings
    rq cron -c jobs.rq_settings jobs.cron

REDIS_URL and the queue names come from the app's own settings (the same
environment variables as the web process, with the embedded Valkey when
REDIS_URL is unset), so worker, clock and web can never disagree. Importing
this module builds the app and imports the job modules once for the worker
process (jobs/runtime.py).
"""
# The job modules, imported once per worker process (forked work-horses would inherit them).
import jobs.retention  # noqa: F401
import jobs.sync  # noqa: F401
import jobs.webhooks  # noqa: F401
from jobs import runtime
from listening.core import queue

_app = runtime.app()
REDIS_URL = queue.redis_url(_app)
QUEUES = runtime.queue_names(_app)
