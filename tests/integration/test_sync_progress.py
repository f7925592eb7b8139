"""A running sync says how far it has got; the 1-on-1s page and its status route read it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq.job import Job, JobStatus

from listening import sync
from listening.core.models import Person
from listening.sync import progress
from listening.sync import queue as sync_queue
from tests.support import factories as f
from tests.support.apps import services_of


def _event(n: int) -> dict:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(hours=n)
    when = lambda t: {"dateTime": t.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}  # noqa: E731
    return {"id": f"evt-{n}", "type": "singleInstance", "changeKey": "1", "sensitivity": "normal",
            "start": when(start), "end": when(start + timedelta(minutes=30)), "subject": "x"}


def test_the_sync_publishes_the_events_read_after_each_page(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    seen = []
    now = datetime(2026, 12, 1, tzinfo=UTC)
    pages = [[_event(n) for n in range(3)], [_event(n) for n in range(3, 5)]]
    sync.store_pages(session, connection, services_of(app).keys, pages,
                     (now - timedelta(days=30), now + timedelta(days=120)), now,
                     sync.SyncReport(connection.id), progress=seen.append)
    session.rollback()
    assert seen == [3, 5]


def test_the_page_says_waiting_then_reading_with_the_count_then_nothing(app, client, session, emu):
    connection = f.linked(services_of(app), session, emu)
    f.sign_in_as(client, session.get(Person, connection.person_id))
    jobs = services_of(app).jobs
    assert client.get("/one-on-ones/status").get_json()["running"] is False

    assert sync_queue.enqueue_sync(services_of(app), connection.id, trigger="manual")
    assert client.get("/one-on-ones/status").get_json()["words"] == "Waiting to read your calendar…"

    job = Job.fetch(jobs.prefix + sync_queue.sync_job_id(connection.id), connection=jobs.redis)
    job.set_status(JobStatus.STARTED)  # as the worker does when it takes the job
    published = progress.Publisher(jobs, connection.id)
    published.publish(457)
    state = client.get("/one-on-ones/status").get_json()
    assert state == {"running": True, "words": "Reading your calendar… 457 events", "events": 457}
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Reading your calendar… 457 events" in page and 'id="sync-reload"' in page
    assert "No recurring 1-on-1" not in page  # nothing is claimed while the calendar is being read

    published.done()
    job.set_status(JobStatus.FINISHED)
    assert client.get("/one-on-ones/status").get_json() == {"running": False, "words": None, "events": None}
    assert "sync-progress" not in client.get("/one-on-ones").get_data(as_text=True)


def test_a_real_sync_leaves_no_progress_behind(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    session.commit()
    report = sync.run(services_of(app), connection.id, trigger="manual")
    assert report.outcome.value == "ok" and report.fetched > 0
    jobs = services_of(app).jobs
    assert jobs.redis.exists(progress.key(jobs, connection.id)) == 0
