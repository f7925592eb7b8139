"""Signed checkpoints: dropping the newest entries leaves a chain that verifies, and only a
checkpoint kept outside the database shows what is missing."""
from __future__ import annotations

import io
import json

import pytest

from listening import audit
from listening.audit import Action, checkpoint
from listening.core.models import Role
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.audit_chain import tamper


@pytest.fixture
def signed(app, session):
    """An organization with six entries and the daily job's checkpoint of them."""
    from jobs import audit as audit_jobs
    from jobs import runtime

    org = f.org(session, name="Signed")
    hr = f.person(session, org, role=Role.hr_admin)
    for n in range(5):
        audit.record(session, Action.sync, None, None, {"n": n}, org_id=org.id)
    session.commit()
    runtime.use(services_of(app))
    try:
        doc = audit_jobs.checkpoint_chain(org.id)
    finally:
        runtime.use(None)
    return org, hr, doc


def _file(app, org_id):
    files = sorted((services_of(app).settings.checkpoint_dir / f"org-{org_id}").glob("*.json"))
    assert len(files) == 1
    return files[0]


def test_the_daily_job_signs_records_and_writes_a_checkpoint(app, client, session, signed):
    org, hr, doc = signed
    assert doc["seq"] == 5 and doc["tenant_id"] == org.tenant_id and doc["key_id"] == "k1"
    written = _file(app, org.id)
    assert checkpoint.parse(services_of(app).keys, written.read_bytes()) == doc
    assert checkpoint.latest_recorded(session, org.id) == doc  # the receipt
    f.sign_in_as(client, hr)
    assert 'id="audit-receipt"' in client.get("/admin/audit").get_data(as_text=True)
    receipt = client.get("/admin/audit/receipt.json")
    assert receipt.status_code == 200 and "attachment" in receipt.headers["Content-Disposition"]
    assert json.loads(receipt.data) == doc


def test_the_daily_retention_job_checkpoints_every_organization(app, session):
    from jobs import retention as retention_job
    from jobs import runtime

    org = f.org(session)
    audit.record(session, Action.sync, None, None, org_id=org.id)
    session.commit()
    runtime.use(services_of(app))
    try:
        retention_job.purge_expired()
    finally:
        runtime.use(None)
    assert checkpoint.latest_recorded(session, org.id)["seq"] == 2  # after the verdict entry
    assert _file(app, org.id)


def test_dropping_the_newest_entries_is_reported_against_the_checkpoint(app, client, session, signed,
                                                                         database_admin_url):
    org, hr, doc = signed
    receipt = _file(app, org.id)
    for n in range(3):
        audit.record(session, Action.sync, None, None, {"later": n}, org_id=org.id)
    session.commit()
    # The newest entries go, the checkpoint entry with them: what is left still verifies.
    tamper(database_admin_url, "DELETE FROM audit_events WHERE org_id = :org AND seq >= 4", org=org.id)
    assert audit.verify(session, org.id) == audit.Verdict(True, 3, first_seq=1)

    result = app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoint", str(receipt)])
    assert result.exit_code == 1, result.output
    assert "chain whole, 3 entries checked" in result.output
    assert "checkpoint of entry #5" in result.output and "entries #4..#5 are missing" in result.output

    f.sign_in_as(client, hr)
    token = f.csrf_token(client, "/admin/audit")
    page = client.post("/admin/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "The chain is whole." in page and "Entries are missing after the checkpoint of entry #5" in page
    assert "the newest checkpoint file" in page
    uploaded = client.post("/admin/audit/verify", content_type="multipart/form-data", data={
        "csrf_token": token, "checkpoint": (io.BytesIO(receipt.read_bytes()), "receipt.json")})
    # Viewing and verifying have written new entries #4 and #5 since: #5 is not the signed one.
    assert "Entries are missing after the checkpoint of entry #5" in uploaded.get_data(as_text=True)
    assert "entry #5 is not the one the checkpoint signed" in uploaded.get_data(as_text=True)
    assert "the receipt you gave" in uploaded.get_data(as_text=True)


def test_a_whole_chain_meets_its_checkpoint(app, client, session, signed):
    org, hr, _ = signed
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoint", str(_file(app, org.id))])
    assert result.exit_code == 0, result.output
    assert "checkpoint of entry #5" in result.output and "the chain still holds it" in result.output
    f.sign_in_as(client, hr)
    page = client.post("/admin/audit/verify", data={"csrf_token": f.csrf_token(client, "/admin/audit")})
    assert "The log still holds entry #5" in page.get_data(as_text=True)


def test_an_edited_or_foreign_receipt_is_refused(app, client, session, signed, tmp_path):
    org, hr, doc = signed
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc | {"seq": 2}))
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoint", str(edited)])
    assert result.exit_code == 2 and "signature does not match" in result.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00not json")
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoint", str(garbage)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    f.sign_in_as(client, hr)
    response = client.post("/admin/audit/verify", content_type="multipart/form-data", data={
        "csrf_token": f.csrf_token(client, "/admin/audit"),
        "checkpoint": (io.BytesIO(edited.read_bytes()), "receipt.json")})
    assert response.status_code == 400 and "signature does not match" in response.get_data(as_text=True)


def test_the_checkpoint_time_is_in_the_viewers_zone(app, client, session, signed):
    """The verdict names when the checkpoint was signed as the audit log shows times: in the
    HR admin's zone, not as UTC ISO text."""
    from datetime import datetime

    from listening.audit import log as audit_log

    org, hr, doc = signed
    hr.time_zone = "Asia/Tokyo"
    session.commit()
    f.sign_in_as(client, hr)
    page = client.post("/admin/audit/verify", data={"csrf_token": f.csrf_token(client, "/admin/audit")})
    text = page.get_data(as_text=True)
    verdict = text.split('id="checkpoint-verdict"', 1)[1].split("</p>", 1)[0]
    tokyo = audit_log.shown_time(datetime.fromisoformat(doc["at"]), audit_log.zone("Asia/Tokyo"))
    assert tokyo in verdict and doc["at"] not in verdict, verdict


def test_flask_audit_checkpoint_signs_and_writes_one_now(app, session):
    """An operator need not wait for the night to have a receipt."""
    org = f.org(session)
    audit.record(session, Action.sync, None, None, org_id=org.id)
    empty = f.org(session)
    session.commit()
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    written = _file(app, org.id)
    assert f"{org.tenant_id}: entry #1 -> {written}" in result.output
    assert f"{empty.tenant_id}: no entries yet, no checkpoint" in result.output
    assert checkpoint.parse(services_of(app).keys, written.read_bytes()) == checkpoint.latest_recorded(session, org.id)
    unknown = app.test_cli_runner().invoke(args=["audit", "checkpoint", "--org", "no-such-tenant"])
    assert unknown.exit_code == 2 and unknown.output.count("\n") == 1 and "no-such-tenant" in unknown.output


def test_a_checkpoint_that_cannot_be_written_stops_none_of_the_others(app, session):
    first, second = f.org(session), f.org(session)
    for org in (first, second):
        audit.record(session, Action.sync, None, None, org_id=org.id)
    session.commit()
    folder = services_of(app).settings.checkpoint_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"org-{first.id}").write_text("a file where its folder should be")
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and first.tenant_id in result.stderr
    assert f"org-{first.id}" in result.stderr and "no file was written" in result.stderr
    assert f"{second.tenant_id}: entry #1 -> {_file(app, second.id)}" in result.stdout


def test_a_command_run_without_flask_says_how_to_run_it(app):
    """The commands get their Services from the app Flask's CLI loaded; a bare click runner has none."""
    from click.testing import CliRunner

    with app.app_context():
        result = CliRunner().invoke(app.cli, ["audit", "checkpoint"])
    assert result.exit_code == 2 and "flask --app wsgi" in result.output and result.output.count("\n") == 1
