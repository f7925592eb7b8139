"""authlib's Flask client for Microsoft's identity platform: the sign-in and "Link Outlook"
redirects and their code exchanges (PKCE, state and nonce kept in the session).

Only the web layer uses it; the token refresh of background syncs goes through
listening/outlook/tokens.py, which needs no Flask.
"""
from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import current_app

from listening.outlook.identity import SIGN_IN_SCOPES, metadata_url


def init_app(app, settings) -> None:
    # One registry per app: clients (and their cached metadata) never leak between apps.
    oauth = OAuth(app)
    # PKCE on top of the secret; every call to the identity platform is bounded
    # (authlib's requests session takes "default_timeout"; a plain "timeout" is ignored).
    common = {"code_challenge_method": "S256", "default_timeout": settings.http_timeout,
              "token_endpoint_auth_method": "client_secret_post"}
    oauth.register(
        "signin", client_id=settings.ms_client_id, client_secret=settings.ms_client_secret,
        server_metadata_url=metadata_url(settings), client_kwargs={"scope": SIGN_IN_SCOPES, **common},
    )
    # Incremental consent for the calendar; the scope is chosen per organization at each
    # authorize request (identity.link_scopes), so the registration carries none.
    oauth.register(
        "outlook", client_id=settings.ms_client_id, client_secret=settings.ms_client_secret,
        server_metadata_url=metadata_url(settings), client_kwargs=dict(common),
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
