"""Directory import against the real database: upsert, deactivation, all-or-nothing, CLI and page."""
import io

from sqlalchemy import func, select

from listening.admin import directory
from listening.core.models import AuditEvent, Person, Role
from tests.support import factories as f

CSV = ("email,name,manager_email,role,aliases\n"
       "ceo@acme.test,Cleo,,manager,\n"
       "ana@acme.test,Ana,ceo@acme.test,manager,a.a@acme.test\n"
       "bo@acme.test,Bo,ana@acme.test,employee,\n"
       "hr@acme.test,Hal,ceo@acme.test,hr_admin,\n")


def people_by_email(session, org):
    session.expire_all()
    return {p.email: p for p in session.scalars(select(Person).where(Person.org_id == org.id))}


def test_import_creates_then_is_idempotent_and_deactivates_absentees(session):
    org = f.org(session)
    first = directory.apply_import(session, org, directory.parse_csv(CSV.encode()))
    assert (first.created, first.updated, first.deactivated) == (4, 0, 0)
    people = people_by_email(session, org)
    assert people["bo@acme.test"].manager_id == people["ana@acme.test"].id
    assert people["ana@acme.test"].aliases == ["a.a@acme.test"]

    again = directory.apply_import(session, org, directory.parse_csv(CSV.encode()))
    assert (again.created, again.updated, again.deactivated, again.unchanged) == (0, 0, 0, 4)

    moved = CSV.replace("bo@acme.test,Bo,ana@acme.test", "bo@acme.test,Bo,ceo@acme.test").replace(
        "hr@acme.test,Hal,ceo@acme.test,hr_admin,\n", "")
    third = directory.apply_import(session, org, directory.parse_csv(moved.encode()))
    assert (third.created, third.updated, third.deactivated) == (0, 1, 1)
    people = people_by_email(session, org)
    assert people["hr@acme.test"].active is False  # deactivated, never deleted
    assert people["bo@acme.test"].manager_id == people["ceo@acme.test"].id


def test_cli_import_refuses_a_bad_file_whole_with_exit_2(app, session, tmp_path):
    org = f.org(session, tenant_id="11111111-1111-1111-1111-111111111111")
    session.commit()
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "cy@acme.test,Cy,nobody@acme.test,employee,\n"
                   "dee@acme.test,Dee,,boss,\n")
    result = runner.invoke(args=["directory", "import", str(bad), "--org", org.tenant_id])
    assert result.exit_code == 2
    assert "line 6: unknown manager nobody@acme.test" in result.stdout
    assert "line 7: role" in result.stdout
    assert result.stderr.splitlines() == [f"error: {bad}: 2 problem(s), listed above; nothing was imported"]
    assert session.scalar(select(func.count()).select_from(Person)) == 0

    good = tmp_path / "good.csv"
    good.write_text(CSV)
    result = runner.invoke(args=["directory", "import", str(good), "--org", org.tenant_id])
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output
    assert session.scalar(select(func.count()).select_from(Person).where(Person.org_id == org.id)) == 4
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions == ["directory:import"]


def test_cli_unknown_org_and_missing_file_exit_2(app, tmp_path):
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["directory", "import", str(tmp_path / "nope.csv"), "--org", "x"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    good = tmp_path / "good.csv"
    good.write_text(CSV)
    unknown = runner.invoke(args=["directory", "import", str(good), "--org", "no-such-tenant"])
    assert unknown.exit_code == 2 and "no organization for tenant" in unknown.output


def test_upload_page_imports_and_refuses(client, session):
    org = f.org(session)
    admin = f.person(session, org, role=Role.hr_admin, email="hr@acme.test")
    session.commit()
    f.sign_in_as(client, admin)
    token = f.csrf_token(client, "/admin/directory")
    bad = client.post("/admin/directory", data={"csrf_token": token, "file": (io.BytesIO(b"\xff\xfejunk"), "x.csv")},
                      content_type="multipart/form-data")
    assert bad.status_code == 400
    assert "not UTF-8" in bad.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Person)) == 1

    ok = client.post("/admin/directory", data={"csrf_token": token, "file": (io.BytesIO(CSV.encode()), "x.csv")},
                     content_type="multipart/form-data", follow_redirects=True)
    assert ok.status_code == 200
    assert "3 added, 1 updated" in ok.get_data(as_text=True)


def test_upload_without_csrf_token_is_refused(client, session):
    org = f.org(session)
    admin = f.person(session, org, role=Role.hr_admin)
    session.commit()
    f.sign_in_as(client, admin)
    response = client.post("/admin/directory", data={"file": (io.BytesIO(CSV.encode()), "x.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(Person)) == 1


def _signed_in_hr_admin(client, session) -> str:
    """An organization with one HR admin signed in; the directory page's CSRF token."""
    admin = f.person(session, f.org(session), role=Role.hr_admin)
    session.commit()
    f.sign_in_as(client, admin)
    return f.csrf_token(client, "/admin/directory")


def _upload(client, token: str, data: bytes):
    return client.post("/admin/directory", data={"csrf_token": token, "file": (io.BytesIO(data), "x.csv")},
                       content_type="multipart/form-data")


def test_upload_just_over_the_limit_gets_the_page_that_explains_it(client, session):
    token = _signed_in_hr_admin(client, session)
    response = _upload(client, token, CSV.encode() + b"#" * (directory.MAX_BYTES - len(CSV) + 10))
    assert response.status_code == 400
    assert "the limit is 5 MB" in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalars(select(AuditEvent.action)).all() == ["directory:import_refused"]
    assert session.scalar(select(func.count()).select_from(Person)) == 1


def test_upload_far_over_the_limit_is_refused_with_a_clear_413(client, session):
    token = _signed_in_hr_admin(client, session)
    response = _upload(client, token, b"a" * (directory.MAX_BYTES + 200 * 1024))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "File too large" in page and "Nothing was imported" in page and "larger than 5 MB" in page
    assert session.scalar(select(func.count()).select_from(Person)) == 1
