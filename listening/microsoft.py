"""Microsoft identity platform (v2.0) through authlib: sign-in and, later, calendar linking.

Only configuration distinguishes the emulator from Microsoft: the authority
URL, the tenant segment, the client id and secret (README, "Configuration").
"""
from __future__ import annotations

import re

from authlib.integrations.flask_client import OAuth

SIGN_IN_SCOPES = "openid profile email"
_GUID = re.compile(r"^[0-9a-fA-F-]{36}$")

oauth = OAuth()


def init_app(app) -> None:
    settings = app.config["SETTINGS"]
    metadata_url = f"{settings.ms_authority}/{settings.ms_tenant}/v2.0/.well-known/openid-configuration"
    oauth.init_app(app)
    oauth.register(
        "signin", client_id=settings.ms_client_id, client_secret=settings.ms_client_secret,
        server_metadata_url=metadata_url,
        # PKCE on top of the secret; every call to the identity platform is bounded.
        client_kwargs={"scope": SIGN_IN_SCOPES, "code_challenge_method": "S256",
                       "timeout": settings.http_timeout,
                       "token_endpoint_auth_method": "client_secret_post"},
    )
    app.extensions["listening_oauth"] = oauth


def client(name: str):
    return oauth.create_client(name)


def issuer_options(oauth_client) -> dict:
    """id_token claim checks: with a multi-tenant authority ("organizations"), Microsoft's
    discovery issuer holds the literal "{tenantid}"; the token's issuer must be that
    template filled with the token's own tid (graph-facts §8, ID token claims)."""
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
