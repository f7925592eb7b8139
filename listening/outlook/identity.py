"""Microsoft identity platform (v2.0) through authlib: sign-in and, later, calendar linking.

Only configuration distinguishes the emulator from Microsoft: the authority
URL, the tenant segment, the client id and secret (README, "Configuration").
"""
from __future__ import annotations

import re

from authlib.integrations.base_client.errors import OAuthError

SIGN_IN_SCOPES = "openid profile email"
# Linking Outlook: a refresh token, the person's profile, and ONE read-only calendar scope.
# openid + profile give an id_token with tid and oid, to check the account is the person's own.
LINK_BASE_SCOPES = ("openid", "profile", "offline_access", "User.Read")
CALENDAR_SCOPES = ("Calendars.Read", "Calendars.ReadBasic")  # never a write scope
_GUID = re.compile(r"^[0-9a-fA-F-]{36}$")
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


def redirect_error(raw: str | None) -> str:
    """The ``error`` of a redirect from Microsoft, fit for logs and the audit log.

    Anyone can open our callback with any ``error``: only the shape of an OAuth error
    code (RFC 6749 §4.1.2.1, snake_case) passes; anything else is not repeated.
    """
    raw = raw or ""
    return raw if _ERROR_CODE.fullmatch(raw) else "unrecognised error"


def what_failed(exc: Exception) -> str:
    """A failed token exchange, fit for logs and the audit log: the OAuth error code (in the
    shape ``redirect_error`` allows) or the exception's class, never its message (it may
    quote input)."""
    return redirect_error(getattr(exc, "error", None)) if isinstance(exc, OAuthError) else type(exc).__name__


def link_scopes(calendar_scope: str) -> str:
    """What "Link Outlook" asks for; an organization setting outside CALENDAR_SCOPES is refused."""
    if calendar_scope not in CALENDAR_SCOPES:
        raise ValueError(f"calendar scope {calendar_scope!r} is not one of {CALENDAR_SCOPES}")
    return " ".join((*LINK_BASE_SCOPES, calendar_scope))


def refresh_scopes(calendar_scope: str) -> str:
    """A refresh asks for the Graph scopes again (the same or fewer, docs/microsoft-graph.md §8)."""
    return " ".join(s for s in link_scopes(calendar_scope).split() if s not in ("openid", "profile"))


def metadata_url(settings) -> str:
    """The OpenID Connect discovery document of the configured authority and tenant."""
    return f"{settings.ms_authority}/{settings.ms_tenant}/v2.0/.well-known/openid-configuration"


def issuer_options(oauth_client) -> dict:
    """id_token claim checks: with a multi-tenant authority ("organizations"), Microsoft's
    discovery issuer holds the literal "{tenantid}"; the token's issuer must be that
    template filled with the token's own tid (docs/microsoft-graph.md §8, ID token claims)."""
    template = oauth_client.load_server_metadata()["issuer"]

    def valid_issuer(claims, value) -> bool:
        tid = claims.get("tid")
        if not isinstance(tid, str) or not _GUID.match(tid):
            return False
        return value == template.replace("{tenantid}", tid)

    return {
        "iss": {"essential": True, "validate": valid_issuer},
        "tid": {"essential": True},
        "oid": {"essential": True},
    }
