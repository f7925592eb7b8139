"""Rate limits on the presses that reach Microsoft or write the audit log: 200 presses of Check
connection and Refresh now made 200 Graph calls, 28 syncs and 228 audit entries in 12 s."""
from __future__ import annotations

import io
import re

import pytest

from listening.core.config import ConfigError
from listening.core.models import Role
from tests.integration.outlook_helpers import actions, company, connection_of
from tests.support import factories as f
from tests.support.browserless import link_outlook

LIMITS = {"rate_limit_check": "2 per minute", "rate_limit_refresh": "2 per minute",
          "rate_limit_sign_in": "3 per minute", "rate_limit_approval": "2 per minute",
          "rate_limit_import": "1 per hour"}
pytestmark = pytest.mark.parametrize("app_overrides", [LIMITS], indirect=True)


def _waits(page: str) -> int:
    return int(re.search(r"try again in (\d+) seconds", page).group(1))


def test_check_connection_and_refresh_now_are_limited_per_person(app, client, session, emu):
    c = company(session, emu)
    c.manager.time_zone = "Asia/Tokyo"
    session.commit()
    f.sign_in_as(client, c.manager)
    assert link_outlook(client, emu.url, c.manager_email).status_code == 302
    connection = connection_of(session, c.manager)
    token = f.csrf_token(client, "/one-on-ones")
    emu.reset()
    checks = [client.post(f"/outlook/connections/{connection.id}/check", data={"csrf_token": token})
              for _ in range(6)]
    assert [r.status_code for r in checks] == [302, 302, 429, 429, 429, 429]
    page = checks[-1].get_data(as_text=True)
    assert "Too many tries" in page and 1 <= _waits(page) <= 60
    assert "Asia/Tokyo time)" in page  # the moment in the person's own zone
    assert checks[-1].headers["Retry-After"]
    assert emu.stats()["by_endpoint"].get("GET /v1.0/me", 0) == 2
    assert actions(session, c.org.id).count("connection:check") == 2
    refreshes = [client.post(f"/outlook/{connection.id}/refresh", data={"csrf_token": token}).status_code
                 for _ in range(4)]
    assert refreshes == [302, 302, 429, 429]
    # Another manager is not held back by the first one's presses.
    other = f.person(session, c.org, role=Role.manager)
    session.commit()
    other_client = app.test_client()
    f.sign_in_as(other_client, other)
    assert other_client.post(f"/outlook/connections/{connection.id}/check",
                             data={"csrf_token": f.csrf_token(other_client, "/one-on-ones")}).status_code == 404


def test_sign_in_starts_and_approval_links_are_limited_per_address(app, client, session, emu):
    c = company(session, emu)
    starts = [client.get("/auth/sign-in").status_code for _ in range(5)]
    assert starts == [302, 302, 302, 429, 429]
    from tests.integration.outlook_helpers import approval_path

    link = approval_path(app, c.org)
    assert [client.get(link).status_code for _ in range(3)] == [302, 302, 429]
    elsewhere = client.get(link, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert elsewhere.status_code == 302  # another address has its own count


def test_directory_import_is_limited_per_person(app, client, session):
    org = f.org(session)
    hr = f.person(session, org, role=Role.hr_admin, email="hr@x.test")
    session.commit()
    f.sign_in_as(client, hr)
    token = f.csrf_token(client, "/admin/directory")
    data = b"email,name,manager_email,role\nhr@x.test,HR,,hr_admin\n"
    answers = [client.post("/admin/directory", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(data), "people.csv")})
               for _ in range(2)]
    assert [a.status_code for a in answers] == [302, 429]
    assert _waits(answers[1].get_data(as_text=True)) > 60 * 59
    assert actions(session, org.id).count("directory:import") == 1


def test_a_limit_that_is_not_one_is_refused_at_start(app):
    from listening import create_app

    with pytest.raises(ConfigError, match="RATE_LIMIT_CHECK"):
        create_app({"rate_limit_check": "often", "instance_path": app.instance_path, "secret_key": "s",
                    "keys": "k1:" + "A" * 43 + "="})
