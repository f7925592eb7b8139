"""The directory: the org chart, its CSV import, a template, and an export in the import format."""
from __future__ import annotations

from datetime import datetime

from flask import Response, flash, g, redirect, render_template, request, url_for

from listening import audit
from listening.admin import directory
from listening.audit import Action
from listening.core import store, when
from listening.web import deps
from listening.web.admin import bp
from listening.web.limits import by_person, limiter, setting
from listening.web.security import own_organization


def _page(sess, org, problems=None, status: int = 200):
    people = store.people(sess, org.id)
    return render_template("admin/directory.html", people=people, names={p.id: p.label for p in people},
                           org=org, problems=problems, required=directory.REQUIRED_COLUMNS,
                           optional=directory.OPTIONAL_COLUMNS), status


@bp.get("/directory")
def directory_page():
    sess = deps.session()
    return _page(sess, own_organization(sess))


@bp.post("/directory")
@limiter.limit(setting("rate_limit_import"), key_func=by_person)
def directory_import():
    sess = deps.session()
    org = own_organization(sess)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(sess, org, ["Choose a CSV file to import."], 400)
    try:
        rows = directory.parse_csv(upload.read(directory.MAX_BYTES + 1))
    except directory.DirectoryError as err:
        audit.record(sess, Action.directory_import_refused, g.person, None,
                     {"problems": len(err.problems)})
        sess.commit()
        return _page(sess, org, err.problems, 400)
    result = directory.apply_import(sess, org, rows)
    audit.record(sess, Action.directory_import, g.person, None, vars(result) | {"source": "upload"})
    sess.commit()
    flash(f"The directory is imported: {result.created} added, {result.updated} updated, "
          f"{result.deactivated} deactivated and {result.unchanged} unchanged.")
    return redirect(url_for("admin.directory_page"))


def _csv_file(body: str, name: str) -> Response:
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/directory/template.csv")
def directory_template():
    return _csv_file(directory.template_csv(), "directory-template.csv")


@bp.get("/directory/export.csv")
def directory_export():
    """Names and addresses of everyone: recorded in the audit log like every other export."""
    sess = deps.session()
    org = own_organization(sess)
    body = directory.export_csv(sess, org)
    audit.record(sess, Action.directory_exported, g.person, None, {"rows": body.count("\r\n") - 1})
    sess.commit()
    stamp = datetime.now(when.zone_of(g.person.time_zone))
    return _csv_file(body, f"directory-{stamp:%Y%m%d-%H%M}.csv")


