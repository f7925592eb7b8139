"""Settings module for the RQ command line (``-c jobs.rq_settings``), shared by worker and cron.

    rq worker --with-scheduler --worker-class rq.SimpleWorker -c jobs.rq_settings
    rq cron -c jobs.rq_settings jobs.cron

REDIS_URL and the queue names come from the process's Services (the same
environment variables as the web process, with the embedded Valkey when
REDIS_URL is unset), so worker, clock and web can never disagree. Importing
this module builds the Services and imports the job modules once for the worker
process (jobs/runtime.py).
"""
# The job modules, imported once per worker process (forked work-horses would inherit them).
import jobs.retention  # noqa: F401
import jobs.sync  # noqa: F401
import jobs.webhooks  # noqa: F401
from jobs import runtime

_jobs = runtime.services().jobs
REDIS_URL = _jobs.url
QUEUES = _jobs.names()
