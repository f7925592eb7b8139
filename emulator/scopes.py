"""Scope parsing: short names and `https://graph.microsoft.com/` names are the same scope (§8)."""
from __future__ import annotations

GRAPH_PREFIX = "https://graph.microsoft.com/"
OIDC = ("openid", "profile", "email", "offline_access")
GRAPH = ("User.Read", "Calendars.Read", "Calendars.ReadBasic", "Calendars.ReadWrite")
CALENDAR = frozenset({"Calendars.Read", "Calendars.ReadBasic", "Calendars.ReadWrite"})
# What `https://graph.microsoft.com/.default` stands for: the app's static registration.
DEFAULT_STATIC = ("User.Read", "Calendars.Read")

_CANONICAL = {s.lower(): s for s in OIDC + GRAPH}


class ScopeError(ValueError):
    """An unknown scope (AADSTS70011)."""


def parse(raw: str | None) -> list[str]:
    """Canonical short names, in request order, deduplicated. Raises ScopeError on unknown ones."""
    out: list[str] = []
    for item in (raw or "").split():
        name = item[len(GRAPH_PREFIX):] if item.lower().startswith(GRAPH_PREFIX) else item
        if name.lower() == ".default":
            found = list(DEFAULT_STATIC)
        elif name.lower() in _CANONICAL:
            found = [_CANONICAL[name.lower()]]
        else:
            raise ScopeError(item)
        out.extend(s for s in found if s not in out)
    return out


def response_string(scopes) -> str:
    """How the token response lists scopes: OIDC names bare, Graph ones as full URIs (§8 [seen])."""
    oidc = [s for s in OIDC if s in scopes]
    graph = [GRAPH_PREFIX + s for s in GRAPH if s in scopes]
    return " ".join(oidc + graph)


def describe(scope: str) -> str:
    return {
        "openid": "Sign you in",
        "profile": "View your basic profile",
        "email": "View your email address",
        "offline_access": "Maintain access to data you have given it access to",
        "User.Read": "Sign you in and read your profile",
        "Calendars.Read": "Read your calendars",
        "Calendars.ReadBasic": "Read basic details of your calendars (no event bodies)",
        "Calendars.ReadWrite": "Have full access to your calendars",
    }.get(scope, scope)
