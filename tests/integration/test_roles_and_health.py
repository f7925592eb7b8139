"""Roles on every page, organization isolation, and /healthz."""
import pytest

from listening.core.models import Role
from listening.web.security import session_fields
from tests.support import factories as f
from tests.support.apps import services_of


@pytest.mark.parametrize("role, status", [(Role.employee, 403), (Role.manager, 403), (Role.hr_admin, 200)])
def test_directory_page_is_for_hr_admins_only(client, session, role, status):
    org = f.org(session)
    me = f.person(session, org, role=role)
    session.commit()
    f.sign_in_as(client, me)
    assert client.get("/admin/directory").status_code == status


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/one-on-ones")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


def test_directory_page_lists_only_my_organization(client, session):
    mine, theirs = f.org(session, name="Mine"), f.org(session, name="Theirs")
    admin = f.person(session, mine, role=Role.hr_admin, name="Admin Mine")
    f.person(session, theirs, name="Stranger Danger")
    f.person(session, mine, name="Colleague Mine")
    session.commit()
    f.sign_in_as(client, admin)
    page = client.get("/admin/directory").get_data(as_text=True)
    assert "Colleague Mine" in page and "Stranger Danger" not in page


def test_session_for_a_person_of_another_org_is_dropped(client, session):
    """A session whose org does not match the person's is not honoured (scoped lookup)."""
    mine, theirs = f.org(session), f.org(session)
    admin = f.person(session, mine, role=Role.hr_admin)
    session.commit()
    with client.session_transaction() as s:
        s.update(session_fields(admin.id, theirs.id))  # valid in every way but the organization
    assert client.get("/admin/directory").status_code == 302


def test_manager_sees_their_reports(client, session):
    org = f.org(session)
    boss = f.person(session, org, role=Role.manager)
    f.person(session, org, manager=boss, name="Report One")
    f.person(session, org, name="Not Mine")
    session.commit()
    f.sign_in_as(client, boss)
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Report One" in page and "Not Mine" not in page


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_degrades_when_redis_is_gone(app, client, monkeypatch, tmp_path):
    from dataclasses import replace

    from listening.core.queue import JobQueue

    nowhere = JobQueue("redis://127.0.0.1:1/0", tmp_path)  # nothing listens on port 1
    monkeypatch.setitem(app.extensions, "listening", replace(services_of(app), jobs=nowhere))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("error")
