"""Drive the emulator's sign-in and consent pages over loopback, as a person with a browser would.

Only the person's clicks are scripted; every request is real HTTP to the
emulator, and the app's side is reached through Flask's test client.
"""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import requests

_FORM = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*id="(\w+)"', re.I)
_FLOW = re.compile(r'name="flow" value="([^"]+)"')


class MicrosoftBrowser:
    def __init__(self, emulator_url: str):
        self.base = emulator_url
        self.http = requests.Session()  # keeps the emulator's own sign-in cookie, like a browser

    def authorize(self, url: str, email: str, consent: str = "accept", max_steps: int = 6) -> str:
        """Follow an /authorize URL through the pages; return the URL Microsoft redirects back to."""
        response = self.http.get(url, allow_redirects=False, timeout=10)
        for _ in range(max_steps):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if not location.startswith(self.base):
                    return location
                response = self.http.get(location, allow_redirects=False, timeout=10)
                continue
            page = response.text
            forms = {form_id: unescape(action) for action, form_id in _FORM.findall(page)}
            flow = _FLOW.search(page)
            if "signin" in forms and flow:
                response = self.http.post(urljoin(response.url, forms["signin"]), allow_redirects=False,
                                          data={"flow": flow.group(1), "action": "signin", "email": email},
                                          timeout=10)
            elif "consent" in forms and flow:
                response = self.http.post(urljoin(response.url, forms["consent"]), allow_redirects=False,
                                          data={"flow": flow.group(1), "action": consent}, timeout=10)
            else:
                raise AssertionError(f"unexpected emulator page ({response.status_code}): {page[:500]}")
        raise AssertionError("the emulator did not redirect back to the app")


def local_path(url: str) -> str:
    """The path and query of a redirect back to the app, for Flask's test client."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def sign_in(client, emulator_url: str, email: str, browser: MicrosoftBrowser | None = None):
    """The whole sign-in dance; returns the app's response to the callback."""
    start = client.get("/auth/sign-in")
    assert start.status_code == 302, start.status_code
    back = (browser or MicrosoftBrowser(emulator_url)).authorize(start.headers["Location"], email)
    return client.get(local_path(back))


def start_link(client, next_url: str | None = None) -> str:
    """Press "Link Outlook" on the 1-on-1s page (with its CSRF token); the /authorize URL."""
    from tests.support.factories import csrf_token

    form = {"csrf_token": csrf_token(client, "/one-on-ones")}
    if next_url is not None:
        form["next"] = next_url
    response = client.post("/outlook/link", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def consent_as(authorize_url: str, emulator_url: str, email: str, consent: str = "accept",
               browser: MicrosoftBrowser | None = None) -> str:
    """Sign in to the emulator as EMAIL and accept (or "cancel") the consent page; returns
    the app-side path and query Microsoft redirects to, for Flask's test client."""
    return local_path((browser or MicrosoftBrowser(emulator_url)).authorize(authorize_url, email, consent))


def link_outlook(client, emulator_url: str, email: str, consent: str = "accept",
                 next_url: str | None = None, browser: MicrosoftBrowser | None = None):
    """The whole "Link Outlook" dance for a signed-in manager; the app's response to the callback."""
    back = consent_as(start_link(client, next_url), emulator_url, email, consent, browser)
    return client.get(back)
