"""Privacy requests: everything held about a person, its export, and erasure."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Response, flash, g, redirect, render_template, request, url_for

from listening import audit
from listening.admin import privacy
from listening.audit import Action
from listening.audit import log as audit_log
from listening.core import store
from listening.notifications import subscriptions
from listening.web import deps
from listening.web.admin import bp
from listening.web.admin.audit import person_or_404

CONFIRM_WORD = "erase"


@bp.get("/people")
def people_page():
    people = store.people(deps.session(), g.person.org_id)
    return render_template("admin/people.html", people=people, person_label=audit_log.person_label)


def _person_page(sess, person, status: int = 200, erase_error: str | None = None):
    return render_template("admin/person.html", person=person, held=privacy.held(sess, person),
                           label=audit_log.person_label(person, person.id), erase_error=erase_error,
                           confirm_word=CONFIRM_WORD, typed=request.form.get("confirm", "")), status


@bp.get("/people/<int:person_id>")
def person_page(person_id: int):
    sess = deps.session()
    return _person_page(sess, person_or_404(sess, person_id))


@bp.post("/people/<int:person_id>/export")
def person_export(person_id: int):
    sess = deps.session()
    person = person_or_404(sess, person_id)
    audit.record(sess, Action.person_exported, g.person, person.id, {"format": "json"})
    document = privacy.export(sess, person, deps.services().keys, datetime.now(UTC))
    sess.commit()
    body = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="person-{person.id}.json"'})


@bp.post("/people/<int:person_id>/erase")
def person_erase(person_id: int):
    sess = deps.session()
    person = person_or_404(sess, person_id)
    if request.form.get("confirm", "").strip().lower() != CONFIRM_WORD:
        return _person_page(sess, person, 400, f"Nothing was erased. Type the word {CONFIRM_WORD} in "
                                               "the box to confirm.")
    connection = privacy.connection_of(sess, person)
    ending = None
    try:
        if connection is not None and not privacy.erasure_refused(person, g.person):
            # Locked before the subscription is read: one being made meanwhile is waited for.
            privacy.hold(sess, connection)
            ending = subscriptions.prepare_end(deps.services(), sess, connection)
        result = privacy.erase(sess, person, g.person, datetime.now(UTC))
    except privacy.ErasureError as err:
        return _person_page(sess, person, 409, f"Nothing was erased: {err}")
    subscriptions.end(deps.services(), sess, ending, g.person, "erased")
    sess.commit()
    items = result.calendar_items
    pairs = result.one_on_ones
    flash(f"Person #{person.id} is erased. Removed: "
          f"{'their Outlook connection, ' if result.connection_removed else ''}"
          f"{items} calendar item{'' if items == 1 else 's'} and "
          f"{pairs} 1-on-1 attachment{'' if pairs == 1 else 's'}.")
    return redirect(url_for("admin.person_page", person_id=person.id))
