"""Identity platform v2.0 pages: discovery, JWKS, /authorize (sign-in + consent), /adminconsent.

Paths are login.microsoftonline.com's, so an app switches to the real service by changing only the
authority URL (docs/microsoft-graph.md §8). The token endpoint lives in token_endpoint.py.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, redirect, render_template, request

from . import scopes as sc

bp = Blueprint("identity", __name__)
MULTI = ("organizations", "common")
SESSION_COOKIE = "ESTSAUTH"  # the name of the real service's session cookie


def state():
    return current_app.extensions["emulator"]


def base_url() -> str:
    return request.host_url.rstrip("/")


def resolve_tenant(segment: str):
    """The Tenant for a tenant id or domain; None for organizations/common; 404 for the rest."""
    if segment in MULTI:
        return None
    world = state().world
    for tenant in world.tenants.values():
        if segment.lower() in (tenant.id.lower(), tenant.domain.lower()):
            return tenant
    abort(error_page(f"AADSTS90002: Tenant '{segment}' not found. Check to make sure you have the "
                     "correct tenant ID and are signing into the correct cloud.", 400))


def error_page(message: str, status: int = 400):
    return current_app.response_class(render_template("error.html", message=message), status)


# --- discovery ---------------------------------------------------------------------------------
@bp.get("/<tenant>/v2.0/.well-known/openid-configuration")
def openid_configuration(tenant):
    found = resolve_tenant(tenant)
    # Like Microsoft: a multi-tenant document carries the literal "{tenantid}" placeholder (§8).
    issuer_tid = found.id if found else "{tenantid}"
    seg = found.id if found else tenant
    base = base_url()
    return {
        "token_endpoint": f"{base}/{seg}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                  "client_secret_basic"],
        "jwks_uri": f"{base}/{seg}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{issuer_tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{seg}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{seg}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{seg}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                             "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                             "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
                             "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": None,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": request.host,
        "rbac_url": "https://pas.windows.net",
    }


@bp.get("/<tenant>/discovery/v2.0/keys")
def jwks(tenant):
    resolve_tenant(tenant)
    return {"keys": [state().signing_key.jwk]}


# --- helpers shared by /authorize and /adminconsent --------------------------------------------
def check_client(client_id: str | None, redirect_uri: str | None):
    """Errors here are shown as a page, never redirected: the redirect target is not trusted."""
    client = state().clients.get(client_id or "")
    if client is None:
        abort(error_page(f"AADSTS700016: Application with identifier '{client_id}' was not found "
                         "in the directory. This can happen if the application has not been "
                         "installed by the administrator of the tenant."))
    if redirect_uri not in client.redirect_uris:
        abort(error_page(f"AADSTS50011: The redirect URI '{redirect_uri}' specified in the request "
                         f"does not match the redirect URIs configured for the application "
                         f"'{client_id}'."))
    return client


def finish(flow: dict, params: dict):
    """Send the browser back to the app with `params` (plus state), honouring response_mode."""
    if flow.get("state") is not None:
        params = {**params, "state": flow["state"]}
    target = flow["redirect_uri"]
    mode = flow.get("response_mode") or "query"
    if mode == "form_post":
        return render_template("form_post.html", action=target, fields=params)
    sep = "#" if mode == "fragment" else ("&" if "?" in target else "?")
    return redirect(target + sep + urlencode(params), 302)


def fail(flow: dict, error: str, description: str, **extra):
    return finish(flow, {"error": error, "error_description": description, **extra})


def session_user():
    oid = state().sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    return state().world.users.get(oid) if oid else None


def start_session(response, user):
    response = current_app.make_response(response)
    sid = secrets.token_urlsafe(24)
    state().sessions[sid] = user.oid
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax")
    return response


def signin_page(flow_id: str, flow: dict, error: str | None = None, status: int = 200):
    people = sorted(state().world.users.values(), key=lambda u: u.email)
    if flow["tenant"]:
        people = [u for u in people if u.tenant_id == flow["tenant"]]
    body = render_template("signin.html", flow_id=flow_id, flow=flow, people=people, error=error,
                           action=request.path, hint=flow.get("login_hint") or "")
    return current_app.response_class(body, status)


def consent_page(flow_id: str, flow: dict, user):
    client = state().clients[flow["client_id"]]
    items = [(s, sc.describe(s)) for s in flow["scopes"]]
    return render_template("consent.html", flow_id=flow_id, flow=flow, user=user, client=client,
                           items=items, action=request.path, admin=flow["kind"] == "admin")


def new_flow(**fields) -> str:
    flow_id = secrets.token_urlsafe(18)
    flows = state().flows
    if len(flows) > 5000:  # abandoned sign-ins must not grow memory forever
        flows.pop(next(iter(flows)))
    flows[flow_id] = fields
    return flow_id


def pop_form_flow():
    flow_id = request.form.get("flow", "")
    flow = state().flows.get(flow_id)
    if flow is None:
        abort(error_page("AADSTS90014: The sign-in session has expired or is unknown. Start again "
                         "from the application."))
    return flow_id, flow


from . import authorize  # noqa: E402,F401  (registers the /authorize and /adminconsent routes)
