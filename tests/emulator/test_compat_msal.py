"""Microsoft's MSAL Python (confidential client) completes the code and refresh flows.

MSAL only accepts https authorities, so this test runs its own emulator over TLS with a
throwaway self-signed certificate and hands MSAL a requests.Session that trusts it.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import msal
import pytest
import requests
from conftest import ANCHOR, world_kwargs
from emu_helpers import form_flow

from emulator.app import DEFAULT_CLIENT_ID, DEFAULT_SECRET
from emulator.testing import running_emulator

REDIRECT = "http://localhost:5000/auth/callback"
SCOPES = ["User.Read", "Calendars.Read"]


@pytest.fixture(scope="module")
def tls_emulator():
    with running_emulator(seed="demo", anchor=ANCHOR, tls=True, **world_kwargs()) as emu:
        yield emu


def drive_pages(emu, auth_uri: str, email: str) -> dict:
    """Play the browser: sign in, accept consent, capture the redirect's query parameters."""
    browser = requests.Session()
    browser.verify, browser.trust_env = emu.ca_bundle, False
    page = browser.get(auth_uri, timeout=30)
    path = urlparse(auth_uri).path
    page = browser.post(emu.url + path, data={"flow": form_flow(page.text), "action": "signin",
                                              "email": email}, allow_redirects=False, timeout=30)
    if page.status_code == 200:
        page = browser.post(emu.url + path, data={"flow": form_flow(page.text), "action": "accept"},
                            allow_redirects=False, timeout=30)
    assert page.status_code == 302, page.text
    return {k: v[0] for k, v in parse_qs(urlparse(page.headers["Location"]).query).items()}


def test_msal_code_flow_and_refresh(tls_emulator):
    emu = tls_emulator
    person = emu.users()[0]
    http = requests.Session()
    http.verify, http.trust_env = emu.ca_bundle, False
    app = msal.ConfidentialClientApplication(
        DEFAULT_CLIENT_ID, client_credential=DEFAULT_SECRET,
        authority=f"{emu.url}/organizations", validate_authority=False,
        instance_discovery=False, http_client=http)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, login_hint=person["email"])
    assert flow["auth_uri"].startswith(emu.url + "/organizations/oauth2/v2.0/authorize?")
    reply = drive_pages(emu, flow["auth_uri"], person["email"])
    result = app.acquire_token_by_auth_code_flow(flow, reply)
    assert "error" not in result, result
    assert result["access_token"] and result["refresh_token"]
    claims = result["id_token_claims"]
    assert claims["oid"] == person["oid"] and claims["tid"] == person["tenant"]
    assert claims["preferred_username"] == person["email"]
    me = http.get(emu.url + "/v1.0/me", timeout=30,
                  headers={"Authorization": "Bearer " + result["access_token"]})
    assert me.json()["id"] == person["oid"]

    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert "error" not in refreshed, refreshed
    assert refreshed["access_token"] != result["access_token"]
    assert refreshed["refresh_token"] != result["refresh_token"]


def test_msal_surfaces_a_revoked_grant(tls_emulator):
    emu = tls_emulator
    person = emu.users()[1]
    minted = emu.mint_token(person["email"])
    emu.fault(type="revoke_grant", user=person["email"])
    http = requests.Session()
    http.verify, http.trust_env = emu.ca_bundle, False
    app = msal.ConfidentialClientApplication(
        DEFAULT_CLIENT_ID, client_credential=DEFAULT_SECRET,
        authority=f"{emu.url}/organizations", validate_authority=False,
        instance_discovery=False, http_client=http)
    result = app.acquire_token_by_refresh_token(minted["refresh_token"], SCOPES)
    assert result["error"] == "invalid_grant" and 50173 in result["error_codes"]
