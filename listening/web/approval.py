"""The organization's approval link: a signed, dated token that starts Microsoft's admin consent.

Made for the manager's page, the page that says approval is needed, and the HR admin's
list of who waits; read by the /outlook/approve view (listening/web/outlook.py).
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from listening.core.models import Organization
from listening.web.urls import external_url

# An approval link waits in an administrator's inbox or ticket queue, holidays included, so a
# few days is too short; past two weeks a copy is more likely forgotten or leaked than about to
# be used, and the manager or HR admin gets a fresh one on their page in one click.
ADMIN_LINK_MAX_AGE = timedelta(days=14)
# Distinct from every other use of the app's secret (the session cookie), so a signature made
# for one can never be replayed as the other.
ADMIN_LINK_SALT = "admin-consent"


def _approval_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=ADMIN_LINK_SALT)


def approval_token(org_id: int, tenant_id: str) -> str:
    """The signed, dated token of an organization's approval link (signed, not encrypted:
    it holds nothing the administrator may not read)."""
    return _approval_serializer().dumps({"org": org_id, "tenant": tenant_id.lower()})


def admin_consent_url(org: Organization) -> str:
    """What the manager forwards to an administrator: our page, which starts Microsoft's
    /adminconsent with a state kept in the administrator's own browser session.

    The administrator may not be a Listening user, so the link needs no sign-in; it carries a
    signed token instead of the bare tenant id, so nobody can start an approval (or write its
    audit entries) for an organization by guessing or knowing its tenant id.
    """
    return external_url("outlook.admin_consent_start", token=approval_token(org.id, org.tenant_id))


def approval_link_org(sess, token: str) -> Organization | None:
    """The organization a genuine, unexpired approval link was made for, else None.

    Raises SignatureExpired for a link we signed that is older than ADMIN_LINK_MAX_AGE
    (itsdangerous raises it only once the signature checked out). A forged or tampered token,
    an old-style link and a link of a removed or re-tenanted organization are all just None,
    so the answer tells a stranger nothing about which tenants are customers.
    """
    try:
        payload = _approval_serializer().loads(token, max_age=int(ADMIN_LINK_MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise  # a subclass of BadSignature, but the one answer that differs
    except BadSignature:
        return None
    payload = payload if isinstance(payload, dict) else {}
    org_id, tenant = payload.get("org"), payload.get("tenant")
    if not isinstance(org_id, int) or not isinstance(tenant, str):
        return None
    org = sess.get(Organization, org_id)
    if org is None or org.tenant_id.lower() != tenant.lower():
        return None
    return org
