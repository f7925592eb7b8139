"""Helpers for the emulator tests: PKCE, a requests-driven browser, token refresh."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlparse

import requests

from emulator.app import DEFAULT_CLIENT_ID, DEFAULT_SECRET

REDIRECT = "http://localhost:5000/auth/callback"
WINDOW = {"startDateTime": "2026-02-01T00:00:00Z", "endDateTime": "2026-05-01T00:00:00Z"}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def form_flow(html: str) -> str:
    return re.search(r'name="flow" value="([^"]+)"', html).group(1)


def redirect_params(response) -> dict:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlparse(response.headers["Location"]).query).items()}


class Browser:
    """Drives the sign-in and consent pages with a requests.Session (keeps the SSO cookie)."""

    def __init__(self, emu, tenant: str = "organizations"):
        self.emu, self.tenant = emu, tenant
        self.session = requests.Session()
        self.verifier, self.challenge = pkce()

    def authorize(self, scope="openid profile email offline_access User.Read Calendars.Read",
                  **extra):
        params = {"client_id": DEFAULT_CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT,
                  "scope": scope, "state": "st-123", "nonce": "nonce-9",
                  "code_challenge": self.challenge, "code_challenge_method": "S256", **extra}
        params = {k: v for k, v in params.items() if v is not None}
        return self.session.get(f"{self.emu.url}/{self.tenant}/oauth2/v2.0/authorize",
                                params=params, allow_redirects=False, timeout=30)

    def post(self, page, path=None, **fields):
        path = path or f"/{self.tenant}/oauth2/v2.0/authorize"
        return self.session.post(self.emu.url + path, data={"flow": form_flow(page.text), **fields},
                                 allow_redirects=False, timeout=30)

    def sign_in_and_consent(self, email: str, **authorize_extra) -> dict:
        page = self.authorize(**authorize_extra)
        if page.status_code == 200 and 'id="signin"' in page.text:
            page = self.post(page, action="signin", email=email)
        if page.status_code == 200 and 'id="consent"' in page.text:
            page = self.post(page, action="accept")
        return redirect_params(page)

    def redeem(self, code: str, **overrides):
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "code_verifier": self.verifier, "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_SECRET, **overrides}
        data = {k: v for k, v in data.items() if v is not None}
        return requests.post(f"{self.emu.url}/{self.tenant}/oauth2/v2.0/token", data=data,
                             timeout=30)


def refresh(emu, refresh_token: str, tenant="organizations", **overrides):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_SECRET, **overrides}
    return requests.post(f"{emu.url}/{tenant}/oauth2/v2.0/token", data=data, timeout=30)
