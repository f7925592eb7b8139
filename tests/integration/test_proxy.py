"""TRUSTED_PROXIES: behind a proxy the audited address and the https scheme come from
X-Forwarded-For and -Proto; without it those headers are ignored, so a client cannot forge its
address. X-Forwarded-Host is never trusted (it goes into redirect URIs and approval links)."""
import pytest

from listening import audit

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "listening.example.com"}


@pytest.fixture
def seen(app):
    """What a request looks like to the app: the audit origin and the external URL."""
    from flask import url_for

    def whoami():
        return {"ip": audit.origin.get().ip, "url": url_for("health.healthz", _external=True)}

    app.add_url_rule("/_test/whoami", "whoami", whoami)
    return app.test_client()


@pytest.mark.parametrize("app_overrides", [{"trusted_proxies": 1}], indirect=True)
def test_one_trusted_proxy_supplies_address_and_scheme_but_not_host(seen):
    body = seen.get("/_test/whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert body["ip"] == "203.0.113.7"
    assert body["url"].startswith("https://localhost/")


@pytest.mark.parametrize("app_overrides", [{"trusted_proxies": 1}], indirect=True)
@pytest.mark.parametrize("forwarded, ip", [
    ("forged-by-client, 203.0.113.7", "203.0.113.7"),      # only the hop our proxy added counts
    ("203.0.113.7:51234", "203.0.113.7"),                  # Azure Application Gateway adds a port
    ("[2001:db8::7]:443", "2001:db8::7"),
    ("not-an-address", None),                               # stored as unknown, never a 500
])
def test_forwarded_addresses_are_read_as_the_proxy_writes_them(seen, forwarded, ip):
    body = seen.get("/_test/whoami", headers={"X-Forwarded-For": forwarded},
                    environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert body["ip"] == ip


def test_without_trusted_proxies_forwarded_headers_are_ignored(seen):
    body = seen.get("/_test/whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert body["ip"] == "10.0.0.2"
    assert body["url"].startswith("http://localhost/")
