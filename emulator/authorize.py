"""/authorize and /adminconsent: sign-in page, consent page, prompt handling (docs/microsoft-graph.md §8)."""
from __future__ import annotations

import uuid

from flask import request

from . import scopes as sc
from .identity import (bp, check_client, consent_page, error_page, fail, finish, new_flow,
                       pop_form_flow, resolve_tenant, session_user, signin_page, start_session,
                       state)

PROMPTS = (None, "", "none", "login", "consent", "select_account")


@bp.get("/<tenant>/oauth2/v2.0/authorize")
def authorize(tenant):
    args = request.args
    found = resolve_tenant(tenant)
    check_client(args.get("client_id"), args.get("redirect_uri"))
    flow = {"kind": "user", "segment": tenant, "tenant": found.id if found else None,
            "client_id": args["client_id"], "redirect_uri": args["redirect_uri"],
            "state": args.get("state"), "response_mode": args.get("response_mode"),
            "nonce": args.get("nonce"), "prompt": args.get("prompt"),
            "login_hint": args.get("login_hint"), "challenge": args.get("code_challenge")}
    problem = validate(flow, args)
    if problem:
        return fail(flow, *problem)
    flow["scopes"] = sc.parse(args.get("scope"))
    flow_id = new_flow(**flow)
    flow = state().flows[flow_id]  # the stored flow: later steps (consent) must see what we add
    user = session_user()
    hint = (flow["login_hint"] or "").lower()
    needs_signin = (user is None or flow["prompt"] in ("login", "select_account")
                    or (hint and hint not in [user.email.lower(), *map(str.lower, user.aliases)]))
    if needs_signin:
        if flow["prompt"] == "none":
            return fail(flow, "login_required", "AADSTS50058: A silent sign-in request was sent "
                        "but no user is signed in.")
        return signin_page(flow_id, flow)
    return after_signin(flow_id, flow, user)


def validate(flow: dict, args) -> tuple[str, str] | None:
    """The (error, description) to redirect with, or None."""
    if args.get("response_type") != "code":
        return ("unsupported_response_type", "AADSTS700054: response_type "
                f"'{args.get('response_type')}' is not enabled for the application.")
    if flow["response_mode"] not in (None, "query", "fragment", "form_post"):
        return ("invalid_request", "AADSTS900144: The request body must contain a valid "
                "'response_mode' parameter.")
    if flow["prompt"] not in PROMPTS:
        return ("invalid_request", f"AADSTS90023: Unsupported 'prompt' value '{flow['prompt']}'.")
    if flow["prompt"] == "select_account" and flow["login_hint"]:
        return ("invalid_request", "AADSTS50195: login_hint cannot be combined with "
                "prompt=select_account.")
    # Microsoft makes PKCE optional for confidential clients; this emulator requires S256, so a
    # client that stops sending it (Listening relies on it against stolen codes) fails its tests.
    if not flow["challenge"] or args.get("code_challenge_method") != "S256":
        return ("invalid_request", "AADSTS9002325: Proof Key for Code Exchange is required: send "
                "code_challenge with code_challenge_method=S256.")
    try:
        scopes = sc.parse(args.get("scope"))
    except sc.ScopeError as exc:
        return ("invalid_scope", f"AADSTS70011: The provided value for the input parameter "
                f"'scope' is not valid. The scope {exc} is not valid.")
    if not scopes:
        return ("invalid_request", "AADSTS900144: The request body must contain the following "
                "parameter: 'scope'.")
    return None


def admin_consent_required(tenant_id: str) -> bool:
    tenant = state().world.tenants[tenant_id]
    forced = state().admin_consent_overrides.get(tenant_id)
    return tenant.requires_admin_consent if forced is None else forced


def after_signin(flow_id: str, flow: dict, user):
    """Decide between the consent page, an error and a code (docs/microsoft-graph.md §8, AADSTS90094)."""
    st = state()
    if flow["tenant"] and user.tenant_id != flow["tenant"]:
        return signin_page(flow_id, flow, f"AADSTS50020: User account '{user.email}' does not "
                           "exist in tenant and cannot access the application in that tenant.", 400)
    consented = st.tokens.consented(user.oid, user.tenant_id, flow["client_id"])
    wanted = set(flow["scopes"])
    calendar = wanted & sc.CALENDAR
    if (flow["kind"] == "user" and calendar and not calendar <= consented
            and admin_consent_required(user.tenant_id)):
        return fail(flow, "access_denied", "AADSTS90094: The grant requires admin permission. "
                    f"An administrator of tenant {user.tenant_id} must grant consent to the "
                    "application through /adminconsent.")
    if flow["kind"] == "admin" or flow["prompt"] == "consent" or not wanted <= consented:
        if flow["prompt"] == "none":
            return fail(flow, "consent_required", "AADSTS65001: The user or administrator has "
                        "not consented to use the application.")
        flow["user"] = user.oid
        return consent_page(flow_id, flow, user)
    return issue_code(flow_id, flow, user)


def issue_code(flow_id: str, flow: dict, user):
    st = state()
    st.flows.pop(flow_id, None)
    code = st.tokens.new_code(client_id=flow["client_id"], redirect_uri=flow["redirect_uri"],
                              oid=user.oid, tid=user.tenant_id, scopes=flow["scopes"],
                              challenge=flow["challenge"], nonce=flow["nonce"],
                              tenant_segment=flow["segment"])
    return finish(flow, {"code": code, "session_state": str(uuid.uuid4())})


@bp.post("/<tenant>/oauth2/v2.0/authorize")
@bp.post("/<tenant>/v2.0/adminconsent")
def authorize_form(tenant):
    """One form handler for both pages; `action` says which button was pressed."""
    flow_id, flow = pop_form_flow()
    action = request.form.get("action")
    st = state()
    if action == "signin":
        user = st.world.user_by_email((request.form.get("email") or "").strip())
        if user is None:
            return signin_page(flow_id, flow, "AADSTS50034: The user account "
                               f"{request.form.get('email')!r} does not exist in the directory.",
                               400)
        return start_session(after_signin(flow_id, flow, user), user)
    user = st.world.users.get(flow.get("user", ""))
    if action == "cancel" or user is None:
        st.flows.pop(flow_id, None)
        return fail(flow, "access_denied", "AADSTS65004: User declined to consent to access the "
                    "app.", error_subcode="cancel")
    if flow["kind"] == "admin":
        return grant_admin(flow_id, flow, user)
    st.tokens.add_consent(user.oid, flow["client_id"], flow["scopes"])
    return issue_code(flow_id, flow, user)


@bp.get("/<tenant>/v2.0/adminconsent")
def adminconsent(tenant):
    """Admin consent: any person of the tenant may act as its admin here (see README)."""
    args = request.args
    if tenant == "common":
        return error_page("AADSTS50194: Admin consent cannot use the /common endpoint; use "
                          "/organizations or the tenant id.")
    found = resolve_tenant(tenant)
    check_client(args.get("client_id"), args.get("redirect_uri"))
    flow = {"kind": "admin", "segment": tenant, "tenant": found.id if found else None,
            "client_id": args["client_id"], "redirect_uri": args["redirect_uri"],
            "state": args.get("state"), "prompt": "login", "login_hint": None}
    try:
        flow["scopes"] = sc.parse(args.get("scope") or sc.GRAPH_PREFIX + ".default")
    except sc.ScopeError as exc:
        return fail(flow, "invalid_scope", f"AADSTS70011: The scope {exc} is not valid.",
                    admin_consent="True")
    return signin_page(new_flow(**flow), flow)


def grant_admin(flow_id: str, flow: dict, user):
    st = state()
    st.flows.pop(flow_id, None)
    st.tokens.grant_admin_consent(user.tenant_id, flow["scopes"])
    return finish(flow, {"admin_consent": "True", "tenant": user.tenant_id,
                         "scope": " ".join(sc.GRAPH_PREFIX + s if s in sc.GRAPH else s
                                           for s in flow["scopes"])})

