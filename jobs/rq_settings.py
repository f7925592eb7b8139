"""Settings module for the RQ command line (``-c jobs.rq_settings``), shared by worker and cron
(the Procfile's commands):

    rq worker --with-scheduler --worker-class rq.SimpleWorker \
        --connection-class jobs.rq_settings.PatientRedis --worker-ttl 30 --maintenance-interval 60 -c jobs.rq_settings
    rq cron --connection-class jobs.rq_settings.PatientRedis -c jobs.rq_settings jobs.cron

REDIS_URL and the queue names come from the process's Services (the same
environment variables as the web process, with the embedded Valkey when
REDIS_URL is unset), so worker, clock and web can never disagree. Importing
this module builds the Services and imports the job modules once for the worker
process (jobs/runtime.py).
"""
from redis import Redis

# The job modules, imported once per worker process (forked work-horses would inherit them).
import jobs.notifications  # noqa: F401
import jobs.retention  # noqa: F401
import jobs.sync  # noqa: F401
import jobs.webhooks  # noqa: F401
from jobs import runtime
from listening.core.queue import patient_retry

_jobs = runtime.services().jobs
REDIS_URL = _jobs.url
QUEUES = _jobs.names()


class PatientRedis(Redis):
    """The Redis client of the RQ command line (its ``--connection-class``).

    RQ's worker retries only its wait for the next job when Redis is away; any other
    command that fails (recording a finished job, a heartbeat, the scheduler's loop,
    the cron loop) ends the process. With redis-py's retry policy set to keep
    reconnecting, with backoff, for runtime.REDIS_PATIENCE seconds, every command waits
    out a Redis restart or failover instead, and the worker finishes or re-queues the
    job it held. The scheduler child RQ forks copies these connection settings.
    """

    @classmethod
    def from_url(cls, url, **kwargs):
        kwargs.setdefault("retry", patient_retry(runtime.REDIS_PATIENCE))
        # Bounded waits on a Redis that stopped answering (a worker raises the read timeout when
        # its blocking wait for the next job needs more: --worker-ttl minus 5 s).
        kwargs.setdefault("socket_connect_timeout", 5)
        kwargs.setdefault("socket_timeout", 30)
        return super().from_url(url, **kwargs)
