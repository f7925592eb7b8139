"""The pages people land on: home (by role), the 1-on-1s page, signed out."""
from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for

from listening import db, linking, store
from listening.models import Role
from listening.security import requires

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    person = g.get("person")
    if person is None:
        return render_template("welcome.html")
    if person.role is Role.hr_admin:
        return redirect(url_for("admin.directory_page"))
    return redirect(url_for("pages.one_on_ones"))


@bp.get("/signed-out")
def signed_out():
    return render_template("message.html", title="Signed out", message="You are signed out.")


@bp.get("/one-on-ones")
@requires(Role.manager, Role.employee, Role.hr_admin)
def one_on_ones():
    sess = db.session()
    reports = store.direct_reports(sess, g.person.org_id, g.person.id)
    connection = linking.connection_of(sess, g.person) if g.person.role is Role.manager else None
    return render_template("one_on_ones.html", reports=reports, connection=connection)
