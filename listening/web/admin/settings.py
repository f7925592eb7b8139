"""Organization settings: view and change (each change audited with old and new values)."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from listening.admin import settings as org_settings
from listening.web import deps
from listening.web.admin import bp
from listening.web.security import own_organization


@bp.get("/settings")
def settings_page():
    org = own_organization(deps.session())
    return render_template("admin/settings.html", org=org, values=org_settings.current(org),
                           problems={}, scopes=org_settings.scope_choices())


@bp.post("/settings")
def settings_save():
    sess = deps.session()
    org = own_organization(sess)
    try:
        wanted = org_settings.parse(request.form)
    except org_settings.SettingsError as err:
        values = org_settings.current(org) | {k: v for k, v in request.form.items() if k in org_settings.FIELDS}
        values["sync_enabled"] = "sync_enabled" in request.form
        return render_template("admin/settings.html", org=org, values=values, problems=err.problems,
                               scopes=org_settings.scope_choices()), 400
    changes = org_settings.apply(sess, org, g.person, wanted)
    sess.commit()
    flash(org_settings.in_sentences(changes))
    return redirect(url_for("admin.settings_page"))
