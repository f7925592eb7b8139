"""Who waits for the organization's Microsoft administrator to approve Listening."""
from __future__ import annotations

from flask import render_template

from listening.outlook import linking
from listening.web import deps
from listening.web.admin import bp
from listening.web.approval import admin_consent_url
from listening.web.security import own_organization


@bp.get("/consent-waiting")
def consent_waiting():
    sess = deps.session()
    org = own_organization(sess)
    return render_template("admin/consent_waiting.html", org=org, admin_link=admin_consent_url(org),
                           waiting=linking.waiting_for_admin_consent(sess, org.id))
