"""Who may reach the HR admin pages: HR admins of the same organization only."""
import pytest

from listening import audit
from listening.audit import Action
from listening.core.models import Organization, Person, Role
from tests.support import factories as f

SETTINGS_FORM = {"sync_enabled": "on", "sync_interval_minutes": "15", "window_past_days": "10",
                 "window_future_days": "60", "calendar_scope": "Calendars.ReadBasic",
                 "retention_calendar_days": "20", "retention_audit_days": "400",
                 "safety_net_hours": "24"}


def admin_urls(person_id: int, entry_id: int) -> list[tuple[str, str]]:
    return [("GET", "/admin/directory"), ("POST", "/admin/directory"),
            ("GET", "/admin/audit"), ("GET", f"/admin/audit/{entry_id}"),
            ("GET", "/admin/audit/export.csv"), ("POST", "/admin/audit/verify"),
            ("GET", "/admin/audit/receipt.json"),
            ("GET", "/admin/settings"), ("POST", "/admin/settings"),
            ("GET", "/admin/people"), ("GET", f"/admin/people/{person_id}"),
            ("POST", f"/admin/people/{person_id}/export"), ("POST", f"/admin/people/{person_id}/erase")]


def test_every_hr_route_is_in_the_list(app):
    """A new HR route must be added to admin_urls, or the 403 test below would not cover it."""
    listed = {path.replace("/1", "/<int:x>").replace("/2", "/<int:x>") for _, path in admin_urls(1, 2)}
    routes = {str(r).replace("<int:person_id>", "<int:x>").replace("<bigint:entry_id>", "<int:x>")
              for r in app.url_map.iter_rules() if r.endpoint.startswith(("hr.", "admin."))}
    assert routes == listed


@pytest.mark.parametrize("role", [Role.manager, Role.employee])
def test_managers_and_employees_get_403_on_every_admin_url(client, session, role):
    org = f.org(session)
    me = f.person(session, org, role=role)
    other = f.person(session, org)
    entry = audit.record(session, Action.sign_in, other, other)
    session.commit()
    f.sign_in_as(client, me)
    token = f.csrf_token(client, "/one-on-ones")
    for method, path in admin_urls(other.id, entry.id):
        response = client.open(path, method=method, data={"csrf_token": token, "confirm": "erase"}
                               | SETTINGS_FORM)
        assert response.status_code == 403, (method, path, response.status_code)
    session.expire_all()
    assert session.get(Person, other.id).erased_at is None
    assert session.get(Organization, org.id).sync_interval_minutes == 60


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in ("/admin/audit", "/admin/settings", "/admin/people", "/admin/audit/export.csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


@pytest.fixture
def two_orgs(session):
    mine, theirs = f.org(session, name="Mine"), f.org(session, name="Theirs")
    admin = f.person(session, mine, role=Role.hr_admin)
    stranger = f.person(session, theirs, name="Stranger Theirs", email="stranger@theirs.example")
    their_entry = audit.record(session, Action.sign_in, stranger, stranger, {"marker": "theirs-only"})
    session.commit()
    return mine, theirs, admin, stranger, their_entry


def test_another_organizations_entries_are_404(client, two_orgs):
    _, _, admin, stranger, their_entry = two_orgs
    f.sign_in_as(client, admin)
    assert client.get(f"/admin/audit/{their_entry.id}").status_code == 404
    assert client.get(f"/admin/audit?actor={stranger.id}").status_code == 404
    assert client.get(f"/admin/audit?subject={stranger.id}").status_code == 404
    assert client.get(f"/admin/audit/export.csv?subject={stranger.id}").status_code == 404
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "Stranger Theirs" not in page and f">{their_entry.seq}<" not in page
    export = client.get("/admin/audit/export.csv").get_data(as_text=True)
    assert "theirs-only" not in export and "Stranger" not in export


def test_another_organizations_people_are_404_for_export_and_erasure(client, session, two_orgs):
    _, _, admin, stranger, _ = two_orgs
    f.sign_in_as(client, admin)
    token = f.csrf_token(client, "/admin/people")
    assert client.get(f"/admin/people/{stranger.id}").status_code == 404
    assert client.post(f"/admin/people/{stranger.id}/export", data={"csrf_token": token}).status_code == 404
    response = client.post(f"/admin/people/{stranger.id}/erase", data={"csrf_token": token, "confirm": "erase"})
    assert response.status_code == 404
    session.expire_all()
    kept = session.get(Person, stranger.id)
    assert kept.email == "stranger@theirs.example" and kept.erased_at is None
    assert "Stranger Theirs" not in client.get("/admin/people").get_data(as_text=True)


def test_settings_change_only_the_admins_own_organization(client, session, two_orgs):
    mine, theirs, admin, _, _ = two_orgs
    f.sign_in_as(client, admin)
    token = f.csrf_token(client, "/admin/settings")
    response = client.post("/admin/settings", data=SETTINGS_FORM | {"csrf_token": token, "org_id": theirs.id})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Organization, mine.id).sync_interval_minutes == 15
    assert session.get(Organization, theirs.id).sync_interval_minutes == 60
    assert audit.count(session, theirs.id) == 1  # only the stranger's sign-in


def test_posts_without_a_csrf_token_are_refused(client, session):
    org = f.org(session)
    admin = f.person(session, org, role=Role.hr_admin)
    victim = f.person(session, org)
    session.commit()
    f.sign_in_as(client, admin)
    assert client.post("/admin/settings", data=SETTINGS_FORM).status_code == 400
    assert client.post(f"/admin/people/{victim.id}/erase", data={"confirm": "erase"}).status_code == 400
    session.expire_all()
    assert session.get(Person, victim.id).erased_at is None
    assert session.get(Organization, org.id).sync_interval_minutes == 60
