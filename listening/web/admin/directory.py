"""HR admin pages: the directory (view and CSV import)."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from listening import audit
from listening.admin import directory
from listening.audit import Action
from listening.core import db, store
from listening.core.models import Role
from listening.web.security import own_organization, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")



@bp.get("/directory")
@requires(Role.hr_admin)
def directory_page():
    sess = db.session()
    people = store.people(sess, g.person.org_id)
    names = {p.id: p.label for p in people}
    return render_template("admin_directory.html", people=people, names=names,
                           org=own_organization(sess), problems=None)


@bp.post("/directory")
@requires(Role.hr_admin)
def directory_import():
    sess = db.session()
    org = own_organization(sess)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, description="Choose a CSV file to import.")
    try:
        rows = directory.parse_csv(upload.read(directory.MAX_BYTES + 1))
    except directory.DirectoryError as err:
        audit.record(sess, Action.directory_import_refused, g.person, None,
                     {"problems": len(err.problems)})
        sess.commit()
        people = store.people(sess, org.id)
        return render_template("admin_directory.html", people=people, org=org,
                               names={p.id: p.label for p in people}, problems=err.problems), 400
    result = directory.apply_import(sess, org, rows)
    audit.record(sess, Action.directory_import, g.person, None, vars(result) | {"source": "upload"})
    sess.commit()
    flash(f"Imported: {result.created} added, {result.updated} updated, "
          f"{result.deactivated} deactivated, {result.unchanged} unchanged.")
    return redirect(url_for("admin.directory_page"))
