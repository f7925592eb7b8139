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


def admin_routes(app, person_id: int, entry_id: int) -> list[tuple[str, str]]:
    """(method, URL) of EVERY route under /admin, found in the app's URL map: a page added
    later (by any module) is covered without being listed here."""
    values = {"person_id": person_id, "entry_id": entry_id}
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/admin"):
                continue
            args = {name: values.get(name, 1) for name in rule.arguments}
            url = app.url_map.bind("localhost").build(rule.endpoint, args, method=sorted(rule.methods)[0])
            routes += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def test_every_admin_page_is_on_the_one_guarded_blueprint(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")}
    assert endpoints and {e.split(".", 1)[0] for e in endpoints} == {"admin"}


def test_the_walk_finds_the_admin_pages(app):
    found = {url for _, url in admin_routes(app, 1, 2)}
    assert {"/admin/directory", "/admin/audit", "/admin/audit/2", "/admin/settings", "/admin/people/1",
            "/admin/people/1/erase", "/admin/consent-waiting", "/admin/directory/export.csv",
            "/admin/audit/receipt.json", "/admin/api-keys", "/admin/webhooks"} <= found


@pytest.mark.parametrize("role", [Role.manager, Role.employee])
def test_anyone_but_an_hr_admin_gets_403_on_every_admin_route(app, client, session, role):
    org = f.org(session)
    me = f.person(session, org, role=role)
    other = f.person(session, org, manager=me)  # me has a direct report: still not an HR admin
    entry = audit.record(session, Action.sign_in, other, other)
    session.commit()
    f.sign_in_as(client, me)
    token = f.csrf_token(client, "/one-on-ones")
    routes = admin_routes(app, other.id, entry.id)
    for method, path in routes:
        response = client.open(path, method=method, data={"csrf_token": token, "confirm": "erase"}
                               | SETTINGS_FORM)
        assert response.status_code == 403, (method, path, response.status_code)
    session.expire_all()
    assert session.get(Person, other.id).erased_at is None
    assert session.get(Organization, org.id).sync_interval_minutes == 60


def test_signed_out_visitors_are_sent_to_sign_in_from_every_admin_route(app, client, session):
    org = f.org(session)
    other = f.person(session, org)
    entry = audit.record(session, Action.sign_in, other, other)
    session.commit()
    for method, path in admin_routes(app, other.id, entry.id):
        response = client.open(path, method=method)
        assert response.status_code == 302, (method, path, response.status_code)
        assert "/auth/sign-in" in response.headers["Location"], (method, path)


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
