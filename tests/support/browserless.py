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
