"""Identity platform v2.0: discovery, JWKS, authorize pages, token grants and AADSTS errors."""
from __future__ import annotations

import jwt
import requests
from emu_helpers import REDIRECT, Browser, redirect_params, refresh

from emulator.app import DEFAULT_CLIENT_ID, DEFAULT_SECRET


def token_error(response, status: int, error: str, code: int):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    for name in ("timestamp", "trace_id", "correlation_id", "error_uri"):
        assert body[name]
    return body


def test_discovery_for_organizations_uses_the_tenantid_placeholder(emulator):
    doc = requests.get(emulator.url + "/organizations/v2.0/.well-known/openid-configuration").json()
    assert doc["issuer"] == emulator.url + "/{tenantid}/v2.0"
    assert doc["authorization_endpoint"] == emulator.url + "/organizations/oauth2/v2.0/authorize"
    assert doc["token_endpoint"] == emulator.url + "/organizations/oauth2/v2.0/token"
    assert doc["jwks_uri"] == emulator.url + "/organizations/discovery/v2.0/keys"
    assert "client_secret_post" in doc["token_endpoint_auth_methods_supported"]


def test_discovery_for_a_tenant_names_the_real_issuer(emulator, manager):
    tid = manager["tenant"]
    doc = requests.get(f"{emulator.url}/{tid}/v2.0/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"{emulator.url}/{tid}/v2.0"
    unknown = requests.get(emulator.url + "/nope.example/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400 and "AADSTS90002" in unknown.text


def test_code_flow_gives_a_signed_id_token_with_microsofts_claims(emulator, browser, manager):
    params = browser.sign_in_and_consent(manager["email"], prompt="consent")
    assert params["state"] == "st-123"
    body = browser.redeem(params["code"]).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["refresh_token"] and body["access_token"]
    assert "https://graph.microsoft.com/Calendars.Read" in body["scope"].split()
    keys = requests.get(emulator.url + "/organizations/discovery/v2.0/keys").json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"]
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(body["id_token"], key, algorithms=["RS256"], audience=DEFAULT_CLIENT_ID,
                        issuer=f"{emulator.url}/{manager['tenant']}/v2.0")
    assert jwt.get_unverified_header(body["id_token"])["kid"] == keys[0]["kid"]
    assert claims["nonce"] == "nonce-9" and claims["ver"] == "2.0"
    assert claims["oid"] == manager["oid"] and claims["tid"] == manager["tenant"]
    assert claims["preferred_username"] == manager["email"] == claims["email"]
    assert claims["name"] == manager["name"] and claims["sub"]
    assert claims["iat"] <= claims["nbf"] < claims["exp"]


def test_consent_page_lists_scopes_and_is_remembered(emulator, browser, manager):
    page = browser.authorize(prompt="consent")
    page = browser.post(page, action="signin", email=manager["email"])
    assert 'data-scope="Calendars.Read"' in page.text and 'data-scope="offline_access"' in page.text
    assert "code" in redirect_params(browser.post(page, action="accept"))
    again = browser.authorize()  # same browser session, same scopes: no page at all
    assert "code" in redirect_params(again)
    forced = browser.authorize(prompt="consent")
    assert forced.status_code == 200 and 'id="consent"' in forced.text


def test_prompt_login_and_select_account_show_the_sign_in_page(emulator, browser, manager):
    browser.sign_in_and_consent(manager["email"])
    for prompt in ("login", "select_account"):
        page = browser.authorize(prompt=prompt)
        assert page.status_code == 200 and 'id="signin"' in page.text


def test_prompt_none_without_a_session_is_login_required(emulator, browser):
    params = redirect_params(browser.authorize(prompt="none"))
    assert params["error"] == "login_required" and params["state"] == "st-123"


def test_login_hint_prefills_the_address(emulator, browser, manager):
    page = browser.authorize(login_hint=manager["email"])
    assert f'value="{manager["email"]}"' in page.text


def test_cancel_redirects_with_access_denied_and_subcode(emulator, browser, manager):
    page = browser.post(browser.authorize(prompt="consent"), action="signin", email=manager["email"])
    params = redirect_params(browser.post(page, action="cancel"))
    assert params["error"] == "access_denied" and params["error_subcode"] == "cancel"
    assert params["state"] == "st-123" and params["error_description"].startswith("AADSTS65004")


def test_unknown_person_stays_on_the_sign_in_page(emulator, browser):
    page = browser.post(browser.authorize(), action="signin", email="nobody@nowhere.example")
    assert page.status_code == 400 and "AADSTS50034" in page.text


def test_bad_client_and_redirect_uri_are_error_pages_not_redirects(emulator, browser):
    page = browser.authorize(client_id="00000000-0000-0000-0000-000000000000")
    assert page.status_code == 400 and "AADSTS700016" in page.text
    page = browser.authorize(redirect_uri="http://evil.example/cb")
    assert page.status_code == 400 and "AADSTS50011" in page.text


def test_authorize_requires_s256_pkce_and_known_scopes(emulator, browser):
    params = redirect_params(browser.authorize(code_challenge=None))
    assert params["error"] == "invalid_request" and params["state"] == "st-123"
    params = redirect_params(browser.authorize(code_challenge_method="plain"))
    assert params["error"] == "invalid_request"
    params = redirect_params(browser.authorize(scope="openid Mail.Send"))
    assert params["error"] == "invalid_scope" and "AADSTS70011" in params["error_description"]


def test_form_post_response_mode(emulator, browser, manager):
    browser.sign_in_and_consent(manager["email"])
    page = browser.authorize(response_mode="form_post")
    assert page.status_code == 200 and f'action="{REDIRECT}"' in page.text
    assert 'name="code"' in page.text and 'value="st-123"' in page.text


def test_user_of_another_tenant_is_refused_on_a_tenant_authority(emulator, manager, people):
    other = next(p for p in people if p["tenant"] != manager["tenant"])
    b = Browser(emulator, tenant=manager["tenant"])
    page = b.post(b.authorize(), path=f"/{manager['tenant']}/oauth2/v2.0/authorize",
                  action="signin", email=other["email"])
    assert page.status_code == 400 and "AADSTS50020" in page.text


def test_pkce_verifier_mismatch_and_missing(emulator, manager):
    for verifier in ("wrong-verifier-" + "x" * 40, None):
        b = Browser(emulator)
        code = b.sign_in_and_consent(manager["email"])["code"]
        token_error(b.redeem(code, code_verifier=verifier), 400, "invalid_grant", 501481)


def test_code_is_single_use(emulator, browser, manager):
    code = browser.sign_in_and_consent(manager["email"])["code"]
    assert browser.redeem(code).status_code == 200
    token_error(browser.redeem(code), 400, "invalid_grant", 54005)


def test_code_expires_after_ten_minutes(emulator, browser, manager):
    code = browser.sign_in_and_consent(manager["email"])["code"]
    emulator.advance_clock(601)
    token_error(browser.redeem(code), 400, "invalid_grant", 70008)


def test_redirect_uri_must_match_the_authorize_request(emulator, browser, manager):
    code = browser.sign_in_and_consent(manager["email"])["code"]
    token_error(browser.redeem(code, redirect_uri="http://localhost:5000/outlook/callback"),
                400, "invalid_request", 50011)


def test_wrong_secret_is_401_invalid_client(emulator, browser, manager):
    code = browser.sign_in_and_consent(manager["email"])["code"]
    token_error(browser.redeem(code, client_secret="nope"), 401, "invalid_client", 7000215)
    token_error(browser.redeem(code, client_secret=None), 401, "invalid_client", 7000218)


def test_http_basic_client_authentication(emulator, browser, manager):
    code = browser.sign_in_and_consent(manager["email"])["code"]
    response = requests.post(f"{emulator.url}/organizations/oauth2/v2.0/token",
                             auth=(DEFAULT_CLIENT_ID, DEFAULT_SECRET),
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": REDIRECT, "code_verifier": browser.verifier})
    assert response.status_code == 200 and response.json()["access_token"]


def test_unsupported_grant_type(emulator):
    response = refresh(emulator, "x", grant_type="password")
    token_error(response, 400, "unsupported_grant_type", 70003)


def test_refresh_rotates_and_the_old_token_still_works(emulator, manager):
    first = emulator.mint_token(manager["email"], ["User.Read", "Calendars.Read", "offline_access"])
    second = refresh(emulator, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert refresh(emulator, first["refresh_token"]).status_code == 200


def test_refresh_expires_after_inactivity(emulator, manager):
    rt = emulator.mint_token(manager["email"], ["Calendars.Read", "offline_access"])["refresh_token"]
    emulator.advance_clock(80 * 86400)
    rt = refresh(emulator, rt).json()["refresh_token"]  # use resets the inactivity window
    emulator.advance_clock(80 * 86400)
    assert refresh(emulator, rt).status_code == 200
    emulator.advance_clock(91 * 86400)
    token_error(refresh(emulator, rt), 400, "invalid_grant", 700082)


def test_revoked_grant_fails_refresh_and_graph(emulator, manager, graph):
    minted = emulator.mint_token(manager["email"])
    emulator.fault(type="revoke_grant", user=manager["email"])
    body = token_error(refresh(emulator, minted["refresh_token"]), 400, "invalid_grant", 50173)
    assert body["suberror"] == "bad_token"
    assert graph(minted["access_token"], "/me").status_code == 401
    fresh = emulator.mint_token(manager["email"])  # signing in again works
    assert graph(fresh["access_token"], "/me").status_code == 200


def test_refresh_for_a_scope_never_granted_is_consent_required(emulator, manager):
    rt = emulator.mint_token(manager["email"], ["User.Read", "offline_access"])["refresh_token"]
    body = token_error(refresh(emulator, rt, scope="https://graph.microsoft.com/Calendars.Read"),
                       400, "invalid_grant", 65001)
    assert body["suberror"] == "consent_required"
    narrower = refresh(emulator, rt, scope="User.Read offline_access").json()
    assert narrower["scope"].split() == ["offline_access", "https://graph.microsoft.com/User.Read"]


def test_no_refresh_token_without_offline_access_and_no_id_token_without_openid(emulator, manager):
    b = Browser(emulator)
    code = b.sign_in_and_consent(manager["email"], scope="User.Read Calendars.Read")["code"]
    body = b.redeem(code).json()
    assert "refresh_token" not in body and "id_token" not in body and body["access_token"]


def test_access_token_expires_after_its_ttl(emulator, manager, graph):
    token = emulator.mint_token(manager["email"])["access_token"]
    assert graph(token, "/me").status_code == 200
    emulator.advance_clock(3601)
    response = graph(token, "/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_admin_consent_required_until_an_admin_grants_it(emulator, guarded_tenant, people):
    emulator.fault(type="admin_consent_required", tenant=guarded_tenant["id"])
    person = next(p for p in people if p["tenant"] == guarded_tenant["id"])
    b = Browser(emulator)
    page = b.post(b.authorize(), action="signin", email=person["email"])
    params = redirect_params(page)
    assert params["error"] == "access_denied" and "AADSTS90094" in params["error_description"]

    admin = Browser(emulator)
    page = admin.session.get(f"{emulator.url}/organizations/v2.0/adminconsent", timeout=30,
                             params={"client_id": DEFAULT_CLIENT_ID, "state": "adm-1",
                                     "redirect_uri": "http://localhost:5000/outlook/adminconsent/callback",
                                     "scope": "https://graph.microsoft.com/Calendars.Read"})
    path = "/organizations/v2.0/adminconsent"
    page = admin.post(page, path=path, action="signin", email=person["email"])
    assert 'id="admin-note"' in page.text
    params = redirect_params(admin.post(page, path=path, action="accept"))
    assert params == {"admin_consent": "True", "tenant": guarded_tenant["id"], "state": "adm-1",
                      "scope": "https://graph.microsoft.com/Calendars.Read"}

    b = Browser(emulator)
    assert "code" in b.sign_in_and_consent(person["email"])
