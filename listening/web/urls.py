"""URL helpers that keep redirects on this site."""
from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(url: str | None) -> str | None:
    """A same-site path to return to, or None for anything that could leave the site."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    return url
