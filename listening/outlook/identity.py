"""Microsoft identity platform (v2.0) through authlib: sign-in and, later, calendar linking.

Only configuration distinguishes the emulator from Microsoft: the authority
URL, the tenant segment, the client id and secret (README, "Configuration").
"""
from __future__ import annotations

import re

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import current_app

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


def init_app(app) -> None:
    settings = app.config["SETTINGS"]
    metadata_url = f"{settings.ms_authority}/{settings.ms_tenant}/v2.0/.well-known/openid-configuration"
    # One registry per app: clients (and their cached metadata) never leak between apps.
    oauth = OAuth(app)
    # PKCE on top of the secret; every call to the identity platform is bounded
    # (authlib's requests session takes "default_timeout"; a plain "timeout" is ignored).
    common = {"code_challenge_method": "S256", "default_timeout": settings.http_timeout,
              "token_endpoint_auth_method": "client_secret_post"}
    oauth.register(
        "signin", client_id=settings.ms_client_id, client_secret=settings.ms_client_secret,
        server_metadata_url=metadata_url, client_kwargs={"scope": SIGN_IN_SCOPES, **common},
    )
    # Incremental consent for the calendar; the scope is chosen per organization at each
    # authorize request (link_scopes), so the registration carries none.
    oauth.register(
        "outlook", client_id=settings.ms_client_id, client_secret=settings.ms_client_secret,
        server_metadata_url=metadata_url, client_kwargs=dict(common),
    )
    app.extensions["listening_oauth"] = oauth


def client(name: str):
    return current_app.extensions["listening_oauth"].create_client(name)


def forget_pending(session, name: str) -> None:
    """Drop every pending flow of client ``name`` from the session before a new one starts.

    authlib keeps each started flow's state, nonce and PKCE verifier in the session under
    ``_state_<name>_<state>`` (about 180 bytes, kept an hour): twenty starts passed the
    cookie's 4 KB, after which sign-in and linking broke. One pending flow per client is all
    a person needs; the newest replaces the others."""
    prefix = f"_state_{name}_"
    for key in [k for k in session if k.startswith(prefix)]:
        session.pop(key, None)


def link_scopes(calendar_scope: str) -> str:
    """What "Link Outlook" asks for; an organization setting outside CALENDAR_SCOPES is refused."""
    if calendar_scope not in CALENDAR_SCOPES:
        raise ValueError(f"calendar scope {calendar_scope!r} is not one of {CALENDAR_SCOPES}")
    return " ".join((*LINK_BASE_SCOPES, calendar_scope))


def refresh_scopes(calendar_scope: str) -> str:
    """A refresh asks for the Graph scopes again (the same or fewer, docs/microsoft-graph.md §8)."""
    return " ".join(s for s in link_scopes(calendar_scope).split() if s not in ("openid", "profile"))


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
