"""The manager's whole flow in Debian's Chromium, driven by Playwright, against the real app.

A werkzeug server on a free loopback port serves the app; the emulator (demo seed)
is started with that port's callbacks registered. Daniel Okafor signs in through
the emulator's pages, links Outlook with consent, refreshes (an RQ worker runs the
queued sync in burst mode), sees his candidates, reads a why-not reason,
attaches, sees the next occurrences and detaches. JavaScript is off in the
browser (the pages need none) and the viewport is a phone's: the test fails if
a page is wider than the screen. A screenshot of each step is saved under
artifacts/screenshots/ (gitignored).
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.apps import clean, make_app, services_of

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
DANIEL = "daniel.okafor@contoso.com"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                       "(apt-get install chromium; .ci/run does it)"),
]


class _Later:
    """A WSGI app filled in after the server exists (the emulator needs the port first)."""
    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture
def served(database_url, redis_url, key_prefix, tmp_path):
    from werkzeug.serving import make_server

    from emulator.app import CALLBACK_PATHS, DEFAULT_CLIENT_ID, DEFAULT_SECRET
    from emulator.testing import QuietHandler, running_emulator
    from emulator.tokens import Client

    later = _Later()
    server = make_server("127.0.0.1", 0, later, threaded=True, request_handler=QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    client = Client(DEFAULT_CLIENT_ID, DEFAULT_SECRET, [base + path for path in CALLBACK_PATHS])
    with running_emulator(seed="demo", control=True, clients=[client]) as emu:
        # A real browser drives it, as it would production: not in Flask's testing mode.
        later.app = app = make_app(database_url, redis_url, key_prefix, emu.url, tmp_path, TESTING=False)
        thread = threading.Thread(target=server.serve_forever, daemon=True, name="app-server")
        thread.start()
        try:
            yield app, emu, base
        finally:
            server.shutdown()
            server.server_close()
            clean(app, key_prefix)


def _directory(app, emu) -> dict:
    """Contoso's people as the demo imports them (Daniel in Los Angeles time)."""
    from listening.core.models import Organization, Person, Role

    users = [u for u in emu.users() if u["email"].endswith("@contoso.com")]
    with services_of(app).db.unit_of_work() as session:
        org = Organization(tenant_id=users[0]["tenant"].lower(), name="Contoso")
        session.add(org)
        session.flush()
        people = {u["email"]: Person(org_id=org.id, email=u["email"], display_name=u["name"],
                                     aliases=u["aliases"], role=Role.manager if u["directReports"]
                                     else Role.employee) for u in users}
        session.add_all(people.values())
        session.flush()
        for u in users:
            people[u["email"]].manager_id = people[u["manager"]].id if u["manager"] else None
        people[DANIEL].time_zone = "America/Los_Angeles"
        return {email: p.id for email, p in people.items()}


def _run_queued_syncs(app) -> None:
    """What the worker process does: run the queued sync jobs (burst: until the queue is empty)."""
    from rq import SimpleWorker

    from jobs import runtime
    from listening.core import queue

    sync_queue = services_of(app).jobs.queue(queue.QUEUE_SYNC)
    assert sync_queue.count >= 1, "Refresh now queued no sync"
    runtime.use(services_of(app))
    try:
        SimpleWorker([sync_queue], connection=sync_queue.connection).work(burst=True)
    finally:
        runtime.use(None)


def _microsoft(page, email: str | None = None) -> None:
    """Click through the emulator's pages (sign-in, then consent) until back at the app."""
    for _ in range(4):
        if page.locator("form#signin").count():
            page.fill("#email", email or DANIEL)
            page.click("form#signin button.primary")
        elif page.locator("form#consent").count():
            _shot(page, "03-microsoft-consent")
            page.click("form#consent button[value=accept]")
        elif page.locator("noscript button, form button:has-text('Continue')").count():
            page.click("form button")  # form_post without JavaScript: the one button
        else:
            return


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _fits(page) -> None:
    """Usable on a narrow screen: nothing wider than the viewport."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def _sign_in_and_link(page, emu, base: str) -> None:
    page.goto(base + "/")
    _shot(page, "01-welcome")
    page.click("text=Sign in with Microsoft")
    assert page.url.startswith(emu.url)
    _shot(page, "02-microsoft-sign-in")
    _microsoft(page)
    assert page.url == base + "/one-on-ones", page.url
    assert page.locator("#outlook-connection button", has_text="Link Outlook").count() == 1
    _shot(page, "04-signed-in")
    _fits(page)
    page.click("#outlook-connection button:has-text('Link Outlook')")
    _microsoft(page)
    assert "Outlook is linked as daniel.okafor@contoso.com" in page.inner_text("main")
    _shot(page, "05-linked")


def _refresh_and_see_candidates(page, app, base: str, james: int):
    page.click("#refresh-now")
    assert "being refreshed" in page.inner_text("main")
    _run_queued_syncs(app)
    page.goto(base + "/one-on-ones")
    row = page.locator(f"#report-{james} table.candidates tr", has_text="James / Daniel weekly 1:1")
    assert row.count() == 1 and "weekly" in row.inner_text() and "you" in row.inner_text()
    _shot(page, "06-candidates")
    _fits(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    _shot(page, "06-candidates-wide")
    page.set_viewport_size({"width": 390, "height": 844})
    return row


def _read_why_not(page) -> None:
    why = page.locator("#why-not")
    why.scroll_into_view_if_needed()
    assert "a private recurring meeting" in why.inner_text()
    assert "Wei / Daniel career conversation" not in page.content()
    copied = why.locator("tr", has_text="Kenji / Daniel 1:1").first.inner_text()
    assert "it is a copy of another series" in copied
    why.screenshot(path=str(SHOTS / "07-why-not.png"))


def _attach_and_detach(page, row, base: str, james: int) -> None:
    row.locator("button", has_text="Attach").click()
    assert page.url.startswith(base + "/one-on-ones")
    assert "Attached: the meeting is now your 1-on-1 with James Smith." in page.inner_text("main")
    attached = page.locator(f"#report-{james} .attached")
    assert attached.locator("ol.next-occurrences li").count() == 4
    _shot(page, "08-attached")
    _fits(page)
    attached.locator("button", has_text="Detach").click()
    assert "Your 1-on-1 with James Smith is detached" in page.inner_text("main")
    assert page.locator(f"#report-{james} .attached").count() == 0
    _shot(page, "09-detached")


def test_manager_signs_in_links_outlook_attaches_and_detaches(served):
    from playwright.sync_api import sync_playwright

    from listening import audit
    from listening.core.models import AuditEvent, OneOnOne

    app, emu, base = served
    james = _directory(app, emu)["james.smith@contoso.com"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            _sign_in_and_link(page, emu, base)
            row = _refresh_and_see_candidates(page, app, base, james)
            _read_why_not(page)
            _attach_and_detach(page, row, base, james)
        finally:
            context.close()
            browser.close()
    with services_of(app).db.unit_of_work() as session:
        assert session.scalars(select(OneOnOne)).all() == []
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        assert audit.verify(session, session.scalar(select(AuditEvent.org_id).limit(1))).whole
    for action in ("auth:sign_in", "connection:link", "calendar:sync", "one_on_one:attach", "one_on_one:detach"):
        assert action in actions, action
