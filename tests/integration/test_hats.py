"""A person wears every hat that applies, whatever the directory's role column says."""
from __future__ import annotations

import re

from listening.admin import directory
from listening.core.models import Organization, Role
from tests.support import factories as f


def _nav(page: str) -> str:
    return re.search(r'<nav class="site-nav".*?</nav>', page, re.S).group(0)


def test_an_hr_admin_with_reports_gets_the_one_on_ones_page_and_the_admin_pages(client, session):
    org = f.org(session)
    grace = f.person(session, org, role=Role.hr_admin, name="Grace HR")
    f.person(session, org, manager=grace, name="Nina Report")
    session.commit()
    f.sign_in_as(client, grace)
    assert client.get("/").headers["Location"].endswith("/one-on-ones")
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Nina Report" in page and "Link Outlook" in page
    nav = _nav(page)
    assert "1-on-1s" in nav and "Directory" in nav and "Audit log" in nav
    assert client.get("/admin/audit").status_code == 200


def test_an_employee_with_reports_manages_them_but_is_no_admin(client, session):
    org = f.org(session)
    lead = f.person(session, org, role=Role.employee, name="Lead by CSV Employee")
    f.person(session, org, manager=lead, name="Rae Report")
    session.commit()
    f.sign_in_as(client, lead)
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Rae Report" in page and "Link Outlook" in page
    assert "Directory" not in _nav(page)
    assert client.get("/admin/directory").status_code == 403


def test_an_hr_admin_without_reports_lands_on_the_directory(client, session):
    org = f.org(session)
    admin = f.person(session, org, role=Role.hr_admin)
    session.commit()
    f.sign_in_as(client, admin)
    assert client.get("/").headers["Location"].endswith("/admin/directory")
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Link Outlook" not in page and 'aria-current="page">1-on-1s<' in page


def test_the_directory_export_imports_back_unchanged(client, session):
    org = f.org(session)
    admin = f.person(session, org, role=Role.hr_admin, name="Ada Admin", aliases=["ada@x.example"])
    f.person(session, org, manager=admin, name="Bo Report")
    f.person(session, org, manager=admin, name='=HYPERLINK("http://evil.example";"x")')
    f.person(session, org, manager=admin, name="@SUM(1+1);-2")
    gone = f.person(session, org, name="Gone Person")
    gone.active = False
    session.commit()
    f.sign_in_as(client, admin)
    response = client.get("/admin/directory/export.csv")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.startswith("email,name,manager_email,role,aliases,time_zone")
    assert "Gone Person" not in body and "ada@x.example" in body
    # A spreadsheet opens the names as text: every field quoted, a formula's start escaped.
    assert '"\'=HYPERLINK(""http://evil.example"";""x"")"' in body and '"\'@SUM(1+1);-2"' in body
    result = directory.apply_import(session, session.get(Organization, org.id), directory.parse_csv(body.encode()))
    assert (result.created, result.updated, result.deactivated, result.unchanged) == (0, 0, 0, 4)
    template = client.get("/admin/directory/template.csv").get_data(as_text=True)
    assert template.splitlines()[0] == "email,name,manager_email,role,aliases,time_zone"
