"""The navigation: one list, shown by one template (templates/_nav.html), each link for the
people who wear its hat (listening/web/security.py). A module that adds pages adds its
links here: ``add_admin_page("API keys", "admin.api_keys_page")``.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

from listening.web.security import ADMINISTERS, Hats


@dataclass(frozen=True)
class Link:
    label: str
    endpoint: str
    hat: str | None = None                 # None: everyone signed in
    also: tuple[str, ...] = ()             # endpoints of pages that belong to this link


MAIN = [Link("1-on-1s", "pages.one_on_ones")]
ADMIN = [
    Link("Directory", "admin.directory_page", ADMINISTERS),
    Link("Audit log", "admin.audit_page", ADMINISTERS, ("admin.audit_entry", "admin.audit_verify")),
    Link("Settings", "admin.settings_page", ADMINISTERS),
    Link("Privacy requests", "admin.people_page", ADMINISTERS, ("admin.person_page",)),
    Link("Waiting for approval", "admin.consent_waiting", ADMINISTERS),
]


def add_admin_page(label: str, endpoint: str, also: tuple[str, ...] = ()) -> None:
    """List one more HR admin page in the navigation (its view is on listening.web.admin.bp,
    which guards it)."""
    if all(link.endpoint != endpoint for link in ADMIN):
        ADMIN.append(Link(label, endpoint, ADMINISTERS, also))


@dataclass(frozen=True)
class Shown:
    label: str
    url: str
    current: bool


def _shown(links: list[Link], hats: Hats) -> list[Shown]:
    here = request.endpoint
    return [Shown(link.label, url_for(link.endpoint), here == link.endpoint or here in link.also)
            for link in links if link.hat is None or hats.wears(link.hat)]


def sections(hats: Hats) -> list[tuple[str | None, list[Shown]]]:
    """(heading, links) of each part of the navigation the person may use."""
    parts = [(None, _shown(MAIN, hats)), ("HR admin", _shown(ADMIN, hats))]
    return [(heading, links) for heading, links in parts if links]
