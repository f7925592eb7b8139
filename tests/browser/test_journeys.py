"""Every journey of issue 14 in a real browser, each page checked by axe-core at 1280 and 390 px.

- a manager links Outlook, watches the first sync in place, attaches, detaches, unlinks
  (confirming), sees which meeting the 1-on-1 was, and relinks, which restores it;
- the report of that manager sees, in their words, what happened and what was asked;
- an HR admin uses the directory, the audit log, the settings and the privacy pages;
- a person with two hats (the demo's HR Director, who has reports) does it by keyboard alone;
- a manager whose organization must approve Listening first, its HR admin, and the
  administrator who approves; the last link is made with JavaScript off.

On the app's own pages every journey is driven by the keyboard alone (issue 14): focus moves
with Tab (Shift+Tab where that is shorter), links and buttons are pressed with Enter or Space,
fields are typed into once Tab has reached them; a control Tab never reaches fails the test.
Only Microsoft's pages (the emulator's) are clicked through, and a file chooser is filled by
Playwright once Tab has reached it.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.browser.conftest import PHONE, wait_until
from tests.browser.journey import check, microsoft, press, save, tab_to, text, type_into

pytestmark = pytest.mark.browser
DANIEL, JAMES = "daniel.okafor@contoso.com", "james.smith@contoso.com"
GRACE = "grace.whitfield@contoso.com"
LUKAS, SARA, HANNA = "lukas.berg@fabrikam.com", "sara.klein@fabrikam.com", "hanna.vogel@fabrikam.com"


def _person_id(stack, email: str) -> int:
    from listening.core.models import Person
    from tests.support.apps import services_of

    with services_of(stack.app).db.unit_of_work() as session:
        return session.scalar(select(Person.id).where(Person.email == email))


def _sign_in(page, stack, email: str) -> None:
    page.goto(stack.base + "/")
    press(page, page.get_by_role("link", name="Sign in with Microsoft"))
    microsoft(page, stack.base, email)


def _link_outlook(page):
    return page.locator("#outlook-connection button", has_text="Link Outlook")


def _nav(page, label: str):
    return page.locator("nav.site-nav").get_by_role("link", name=label, exact=True)


def _candidates(page, report_id: int):
    return page.locator(f"#report-{report_id} table.candidates")


def test_manager_links_watches_the_first_sync_attaches_unlinks_and_relinks(stack, new_page):
    james = _person_id(stack, JAMES)
    page = new_page()
    page.goto(stack.base + "/")
    check(page, "welcome", shot=True)
    press(page, page.get_by_role("link", name="Sign in with Microsoft"))
    microsoft(page, stack.base, DANIEL)
    assert page.url == stack.base + "/one-on-ones"
    assert page.locator("#outlook-connection button", has_text="Link Outlook").count() == 1
    check(page, "one-on-ones-not-linked")

    # Link: the first sync starts at once; a slow Microsoft lets the page be seen while it runs.
    stack.emu.fault(type="latency", ms=6000, mailbox=DANIEL, endpoint="calendarView", times=1)
    press(page, _link_outlook(page))
    microsoft(page, stack.base, DANIEL)
    assert page.url.startswith(stack.base + "/one-on-ones")
    assert "Outlook is linked as daniel.okafor@contoso.com. Listening started reading your calendar" in text(page)
    progress = text(page, "#sync-progress")
    assert re.search(r"(Waiting to read|Reading) your calendar…", progress), progress
    assert "No recurring 1-on-1" not in text(page)  # nothing is claimed about a calendar not yet read
    page.evaluate("window.sameDocument = true")
    save(page, "one-on-ones-reading")
    check(page, "one-on-ones-reading")
    # It ends: the page updates itself in place (no reload: the marker survives).
    _candidates(page, james).wait_for(timeout=40000)
    assert page.evaluate("window.sameDocument === true")
    assert page.locator("#sync-progress").count() == 0
    assert "Listening has read your calendar" in page.inner_text("#live-announce")
    assert "is reading your calendar now" not in text(page)  # nothing on the page is left stale
    assert "Last read" in text(page, "#outlook-connection") and "Reconnect" not in text(page, "#outlook-connection")
    assert "Read your calendar" in text(page, "#connection-scopes")
    check(page, "one-on-ones-candidates", shot=True)

    # Copies of a series show what tells them apart.
    why = text(page, "#why-not")
    assert why.count("Open this copy in Outlook") == 2 and "organized by you; first occurrence" in why

    # Attach, detach, attach again (Enter, Space, Enter).
    row = _candidates(page, james).locator("tr", has_text="James / Daniel weekly 1:1")
    press(page, row.locator("button", has_text="Attach"))
    assert "Attached: the meeting is now your 1-on-1 with James Smith." in text(page)
    assert page.locator(f"#report-{james} .attached ol.next-occurrences li").count() == 4
    check(page, "one-on-ones-attached", shot=True)
    press(page, page.locator(f"#report-{james} .attached button", has_text="Detach"), key="Space")
    assert "Your 1-on-1 with James Smith is detached" in text(page)
    assert page.locator(f"#report-{james} .attached").count() == 0
    press(page, _candidates(page, james).locator("tr", has_text="James / Daniel weekly 1:1")
          .locator("button", has_text="Attach"))

    # Unlink asks first, and says what goes and what stays.
    press(page, "#unlink")
    assert page.url.endswith("/unlink")
    ask = text(page)
    assert "Unlink Outlook?" in ask and re.search(r"the \d+ calendar entries Listening stored", ask)
    assert "Your 1 attached 1-on-1 stay" in ask
    check(page, "unlink-confirm", shot=True)
    press(page, "#confirm-unlink")
    assert "Outlook is unlinked" in text(page)
    check(page, "unlinked")
    press(page, page.get_by_role("link", name="Back to 1-on-1s"), back=True)  # the page's last control
    attached = text(page, f"#report-{james} .attached")
    assert re.search(r"the meeting weekly, \w+days at \d\d:\d\d \(America/Los_Angeles\)", attached), attached
    assert "Outlook was unlinked" in attached
    assert page.locator("#outlook-connection button", has_text="Link Outlook").count() == 1
    check(page, "one-on-ones-unlinked")

    # The report sees what happened in their own words, and nothing of the manager's calendar.
    employee = new_page(viewport=PHONE)
    _sign_in(employee, stack, JAMES)
    mine = text(employee, "#my-one-on-one")
    assert "What happened: Daniel Okafor unlinked their Outlook calendar from Listening" in mine
    assert "Daniel Okafor has been asked to link Outlook again." in mine
    assert "Kenji" not in text(employee) and "Outlook was unlinked, so" not in mine
    check(employee, "employee-needs-attention", shot=True)

    # Relink: the first sync's re-check restores the 1-on-1 by itself.
    press(page, _link_outlook(page))
    microsoft(page, stack.base, DANIEL)
    assert wait_until(lambda: page.locator(f"#report-{james} .attached.attention").count() == 0
                      and page.locator("#sync-progress").count() == 0, timeout=40)
    restored = text(page, f"#report-{james} .attached")
    assert "“James / Daniel weekly 1:1”" in restored and "Needs attention" not in restored
    check(page, "one-on-ones-relinked")
    employee.reload()
    assert "What happened" not in text(employee, "#my-one-on-one")
    assert "“James / Daniel weekly 1:1”" in text(employee, "#my-one-on-one")
    check(employee, "employee")

    # Refresh now: progress, then the page is up to date again, in place.
    page.evaluate("window.sameDocument = true")
    stack.emu.fault(type="latency", ms=3000, mailbox=DANIEL, endpoint="calendarView", times=1)
    press(page, "#refresh-now")
    assert page.locator("#sync-progress").count() == 1
    page.evaluate("window.sameDocument = true")
    assert wait_until(lambda: page.locator("#sync-progress").count() == 0, timeout=40)
    assert page.evaluate("window.sameDocument === true")
    assert "just now" in text(page, "#last-sync") or "minute" in text(page, "#last-sync")


def _type_date(page, field: str, iso: str) -> None:
    """Tab to a date field and type the date into its parts, in the order the browser's
    locale shows them (Chromium moves to the next part by itself once one is full)."""
    tab_to(page, field)
    year, month, day = iso.split("-")
    parts = {"year": year, "month": month, "day": day}
    order = page.evaluate("""() => new Intl.DateTimeFormat(navigator.language)
        .formatToParts(new Date(2026, 0, 2)).map(p => p.type)
        .filter(t => t === "year" || t === "month" || t === "day")""")
    for part in order:
        page.keyboard.type(parts[part])
    assert page.input_value(field) == iso, (field, page.input_value(field), order)


def test_hr_admin_directory_audit_settings_and_privacy(stack, new_page, tmp_path):
    page = new_page()
    _sign_in(page, stack, GRACE)
    press(page, _nav(page, "Directory"))
    assert "Directory · Contoso" in text(page)
    assert "optional" in text(page, "#columns")
    check(page, "directory", shot=True)
    tab_to(page, page.get_by_role("link", name="Download a template"))
    with page.expect_download() as template:
        page.keyboard.press("Enter")
    assert template.value.path().read_text().startswith("email,name,manager_email,role,aliases,time_zone")
    tab_to(page, page.get_by_role("link", name="Export the current directory"))
    with page.expect_download() as export:
        page.keyboard.press("Enter")
    exported = export.value.path().read_text()
    assert '"grace.whitfield@contoso.com","Grace Whitfield","elena.marsh@contoso.com","hr_admin"' in exported
    # A file with errors: every problem by line, in line order, and nothing changes.
    bad = tmp_path / "bad.csv"
    bad.write_text("email,name,manager_email,role\nana@x.example,Ana,boss@x.example,employee\n"
                   "not-an-address,Bo,,employee\nana@x.example,Cy,,chief\n")
    tab_to(page, "#directory-file")  # the file chooser itself is the system's, not the page's
    page.set_input_files("#directory-file", str(bad))
    press(page, page.get_by_role("button", name="Import"))
    problems = page.locator("#import-problems li").all_inner_texts()
    lines = [int(re.match(r"line (\d+)", p).group(1)) for p in problems]
    assert lines == sorted(lines) and len(problems) >= 3, problems
    check(page, "directory-errors")

    press(page, _nav(page, "Audit log"))
    check(page, "audit", shot=True)
    assert "Audit log viewed" not in text(page, "#entries")  # her own views, left out
    assert "Signed in" in text(page, "#entries") and "auth:sign_in" not in text(page, "#entries")
    tab_to(page, "input[name=own_views]")
    page.keyboard.press("Space")
    assert page.is_checked("input[name=own_views]")
    press(page, page.get_by_role("button", name="Filter"))
    assert "Audit log viewed" in text(page, "#entries")
    press(page, page.locator("#entries a[aria-label^='Entry']").first)
    assert "audit:viewed" in text(page)  # the code, in the detail
    check(page, "audit-entry")
    page.go_back()
    _type_date(page, "#f-since", "2026-02-01")
    _type_date(page, "#f-until", "2026-01-01")
    press(page, page.get_by_role("button", name="Filter"))
    assert "since must not be after until" in text(page, "#filter-problem")
    assert (page.input_value("#f-since"), page.input_value("#f-until")) == ("2026-02-01", "2026-01-01")
    check(page, "audit-date-error")

    press(page, _nav(page, "Settings"))
    type_into(page, "#s-interval", "30")
    press(page, page.get_by_role("button", name="Save settings"))
    assert "Sync interval set to 30 minutes." in text(page)
    check(page, "settings")
    type_into(page, "#s-cal", "10")  # shorter than the 30 days back the sync reads: refused
    press(page, page.get_by_role("button", name="Save settings"))
    assert "Nothing was saved" in text(page) and page.locator("#s-cal[aria-invalid=true]").count() == 1
    check(page, "settings-error")

    press(page, _nav(page, "Privacy requests"))
    check(page, "privacy")
    press(page, page.locator("#people").get_by_role("link", name="Laura Evans", exact=True))
    check(page, "person")
    type_into(page, "#confirm-erase", "yes please")
    press(page, "button.danger")
    assert "Nothing was erased. Type the word erase" in text(page, "#erase-error")
    assert page.input_value("#confirm-erase") == "yes please"  # the form keeps what was typed
    check(page, "person-erase-error", shot=True)
    type_into(page, "#confirm-erase", "erase", back=True)  # from the end of the page: two Shift+Tab
    press(page, "button.danger")
    assert re.search(r"Person #\d+ is erased\.", text(page))

    # The pages for other systems sit in the same navigation, behind the same guard.
    press(page, _nav(page, "API keys"))
    type_into(page, "#key-name", "Check-in bot")
    tab_to(page, "input[name=scopes][value='one_on_ones:read']")
    page.keyboard.press("Space")
    assert page.is_checked("input[name=scopes][value='one_on_ones:read']")
    press(page, page.get_by_role("button", name="Make the key"))
    assert page.input_value("#key-value").startswith("lst_")
    check(page, "api-keys")
    press(page, _nav(page, "Webhooks"))
    check(page, "webhooks")


def test_a_person_with_two_hats_by_keyboard_alone(stack, new_page):
    """The HR Director has three reports: the 1-on-1s page for them and the HR admin's pages.
    Tab and Enter only, from the welcome page to a linked, read calendar."""
    page = new_page(viewport=PHONE)
    page.goto(stack.base + "/")
    tab_to(page, "a.button")
    with page.expect_navigation(url=re.compile(re.escape(stack.emu.url))):
        page.keyboard.press("Enter")
    microsoft(page, stack.base, GRACE, keyboard=True)
    assert page.url == stack.base + "/one-on-ones"
    nav = text(page, "nav.site-nav")
    for link in ("1-on-1s", "Directory", "Audit log", "Settings", "Privacy requests", "Waiting for approval"):
        assert link in nav, link
    reports = page.locator("#reports article.report h3").all_inner_texts()
    assert len(reports) == 3 and any("Nina Alvarez" in r for r in reports), reports
    check(page, "two-hats", shot=True)
    tab_to(page, "#outlook-connection button")
    with page.expect_navigation(url=re.compile(re.escape(stack.emu.url))):
        page.keyboard.press("Enter")
    microsoft(page, stack.base, GRACE, keyboard=True)
    assert "Outlook is linked as grace.whitfield@contoso.com" in text(page)
    nina = _person_id(stack, "nina.alvarez@contoso.com")
    _candidates(page, nina).wait_for(timeout=40000)
    tab_to(page, f"#report-{nina} table.candidates button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Attached: the meeting is now your 1-on-1 with Nina Alvarez." in text(page)
    tab_to(page, 'nav a[href$="/admin/consent-waiting"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/admin/consent-waiting") and "Nobody is waiting." in text(page)
    check(page, "consent-waiting-empty")


def test_approval_by_the_organization_then_linking_without_javascript(stack, new_page):
    lukas = new_page(viewport=PHONE)
    _sign_in(lukas, stack, LUKAS)
    press(lukas, _link_outlook(lukas))
    microsoft(lukas, stack.base, LUKAS)
    assert "Your organization must approve Listening first" in text(lukas)
    approval = lukas.input_value("#admin-consent-link")
    assert "/outlook/approve/" in approval
    check(lukas, "approval-needed", shot=True)
    press(lukas, lukas.get_by_role("link", name="Back to 1-on-1s"), back=True)  # the page's last control
    panel = text(lukas, "#outlook-connection")
    assert "Waiting for your organization's approval" in panel and "Withdraw my request" in panel
    for absent in ("Unlink", "Reconnect", "Check connection", "Refresh now"):
        assert absent not in panel, absent
    check(lukas, "one-on-ones-waiting", shot=True)

    sara = new_page()
    _sign_in(sara, stack, SARA)
    press(sara, _nav(sara, "Waiting for approval"))
    assert "Lukas Berg" in text(sara, "#waiting")
    check(sara, "consent-waiting", shot=True)

    # The organization's administrator, who never signs in to Listening, opens the link.
    admin = new_page()
    admin.goto(approval)
    microsoft(admin, stack.base, HANNA)
    assert "Thank you" in text(admin)
    check(admin, "approval-given")

    # Lukas links with JavaScript off: the page says the sync runs and offers a reload.
    plain = new_page(viewport=PHONE, javascript=False)
    _sign_in(plain, stack, LUKAS)
    stack.emu.fault(type="latency", ms=4000, mailbox=LUKAS, endpoint="calendarView", times=1)
    press(plain, _link_outlook(plain))
    microsoft(plain, stack.base, LUKAS)
    assert "Outlook is linked as lukas.berg@fabrikam.com" in text(plain)
    assert plain.locator("#sync-reload").is_visible()
    mia = _person_id(stack, "mia.schulz@fabrikam.com")

    def read() -> bool:
        if _candidates(plain, mia).count():
            return True
        press(plain, "#sync-reload")
        return False
    assert wait_until(read, timeout=40, every=1.0)
    assert "Waiting for your organization's approval" not in text(plain)
    # axe-core runs in the page, so not here: the same templates were checked with JavaScript on.
