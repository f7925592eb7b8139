"""Graph /v1.0/subscriptions over loopback: the validation handshake, create, list, renew,
delete, reauthorize, limits and ownership (docs/microsoft-graph.md §9)."""
from __future__ import annotations

from urllib.parse import unquote

import pytest
from notify_helpers import call, stamp_in, subscribe, token_for


@pytest.fixture
def owner(people, tenants) -> dict:
    easy = {t["id"] for t in tenants if not t["requiresAdminConsent"]}
    return next(p for p in people if p["tenant"] in easy)


@pytest.fixture
def other(people, owner) -> dict:
    return next(p for p in people if p["email"] != owner["email"])


def test_create_validates_both_urls_and_answers_the_subscription(emu, receiver, owner):
    token = token_for(emu, owner["email"])
    r = subscribe(emu, token, receiver)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["@odata.context"].endswith("/$metadata#subscriptions/$entity")
    assert body["resource"] == "me/events" and body["changeType"] == "created,updated,deleted"
    assert body["clientState"] == "secret-state" and body["creatorId"] == owner["oid"]
    assert body["applicationId"] and body["notificationUrl"] == receiver.hook
    assert body["lifecycleNotificationUrl"] == receiver.life
    assert body["includeResourceData"] is False and body["notificationQueryOptions"] is None
    assert body["latestSupportedTlsVersion"] == "v1_2"
    assert body["expirationDateTime"].endswith("Z") and len(body["id"]) == 36
    paths = [v["path"] for v in receiver.validations]
    assert paths == ["/hook", "/life"]
    first = receiver.validations[0]
    assert first["token"].startswith("Validation: ") and first["body"] == ""
    assert first["content_type"].startswith("text/plain")
    listed = emu.subscriptions()
    assert [s["id"] for s in listed] == [body["id"]]
    assert listed[0]["mailbox"] == owner["email"] and listed[0]["pending_deliveries"] == 0


def test_the_token_must_be_url_decoded(emu, receiver, owner):
    receiver.answer = lambda token: token.replace(" ", "%20")  # echoes it still encoded
    r = subscribe(emu, token_for(emu, owner["email"]), receiver)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "ValidationError" and "validationToken" in error["message"]
    assert emu.subscriptions() == []


def test_validation_query_joins_an_existing_query_string(emu, receiver, owner):
    r = subscribe(emu, token_for(emu, owner["email"]), receiver, lifecycle=False,
                  notificationUrl=receiver.hook + "?tenant=a%20b")
    assert r.status_code == 201, r.text
    seen = receiver.validations[0]
    assert seen["query"].startswith("tenant=a%20b&validationToken=Validation%3A%20")
    assert unquote(seen["query"].split("validationToken=")[1]) == seen["token"]


@pytest.mark.parametrize("problem", ["slow", "not text", "lifecycle wrong"])
def test_failed_validation_refuses_the_subscription(emu, receiver, owner, problem):
    if problem == "slow":
        receiver.validation_delay = 1.5  # over this emulator's 1-second limit (10 s at Microsoft)
    elif problem == "not text":
        receiver.answer_type = "application/json"
    else:
        receiver.answer = lambda token: "nope" if receiver.validations[-1]["path"] == "/life" \
            else token
    r = subscribe(emu, token_for(emu, owner["email"]), receiver)
    assert r.status_code == 400 and r.json()["error"]["code"] == "ValidationError"
    assert emu.subscriptions() == []
    logged = emu.deliveries()
    assert logged[-1]["kind"] == "validation" and logged[-1]["outcome"] != "validated"


def test_unreachable_endpoint_fails_validation(emu, receiver, owner):
    emu.fault(type="notifications_down", url_prefix=receiver.url)
    r = subscribe(emu, token_for(emu, owner["email"]), receiver)
    assert r.status_code == 400 and r.json()["error"]["code"] == "ValidationError"
    assert receiver.validations == []


@pytest.mark.parametrize("minutes,status", [(10079, 201), (10081, 400), (-5, 400)])
def test_expiry_is_at_most_10080_minutes_ahead(emu, receiver, owner, minutes, status):
    r = subscribe(emu, token_for(emu, owner["email"]), receiver,
                  expirationDateTime=stamp_in(emu, minutes))
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["error"]["code"] == "InvalidRequest"


@pytest.mark.parametrize("field,value", [
    ("clientState", "x" * 129), ("changeType", "created,moved"), ("changeType", None),
    ("notificationUrl", "ftp://example.com/hook"), ("resource", "me/messages"),
    ("resource", "me/calendarView"), ("expirationDateTime", None),
    ("expirationDateTime", "tomorrow"), ("includeResourceData", True)])
def test_bad_bodies_are_400(emu, receiver, owner, field, value):
    r = subscribe(emu, token_for(emu, owner["email"]), receiver, **{field: value})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "InvalidRequest"
    assert receiver.validations == []  # refused before any handshake


def test_a_missing_body_is_400(emu, owner):
    r = call(emu, "POST", token_for(emu, owner["email"]), "/subscriptions")
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest"


def test_resource_spellings_of_the_own_mailbox(emu, receiver, owner, other):
    token = token_for(emu, owner["email"])
    for resource in ("/me/events", f"users/{owner['oid']}/events",
                     f"/Users/{owner['email'].upper()}/Events"):
        r = subscribe(emu, token, receiver, lifecycle=False, resource=resource)
        assert r.status_code == 201, (resource, r.text)
        assert r.json()["resource"] == resource
    r = subscribe(emu, token, receiver, lifecycle=False, resource=f"users/{other['oid']}/events")
    assert r.status_code == 403 and r.json()["error"]["code"] == "ErrorAccessDenied"


def test_a_calendar_scope_is_needed(emu, receiver, owner):
    without = token_for(emu, owner["email"], ("User.Read",))
    r = subscribe(emu, without, receiver)
    assert r.status_code == 403 and r.json()["error"]["code"] == "ErrorAccessDenied"
    assert call(emu, "GET", without, "/subscriptions").status_code == 403
    basic = token_for(emu, owner["email"], ("Calendars.ReadBasic",))
    assert subscribe(emu, basic, receiver).status_code == 201
    assert call(emu, "POST", "not-a-token", "/subscriptions", {}).status_code == 401


def test_get_list_renew_reauthorize_delete(emu, receiver, owner):
    token = token_for(emu, owner["email"])
    created = subscribe(emu, token, receiver).json()
    sid = created["id"]
    got = call(emu, "GET", token, f"/subscriptions/{sid}")
    assert got.status_code == 200 and got.json()["id"] == sid
    assert got.json()["clientState"] is None  # Graph returns it only when creating
    listed = call(emu, "GET", token, "/subscriptions").json()
    assert listed["@odata.context"].endswith("/$metadata#subscriptions")
    assert [s["id"] for s in listed["value"]] == [sid]

    later = stamp_in(emu, 3 * 24 * 60)
    renewed = call(emu, "PATCH", token, f"/subscriptions/{sid}", {"expirationDateTime": later})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["expirationDateTime"] > created["expirationDateTime"]
    too_far = call(emu, "PATCH", token, f"/subscriptions/{sid}",
                   {"expirationDateTime": stamp_in(emu, 10081)})
    assert too_far.status_code == 400 and too_far.json()["error"]["code"] == "InvalidRequest"
    other_field = call(emu, "PATCH", token, f"/subscriptions/{sid}",
                       {"expirationDateTime": later, "notificationUrl": receiver.life})
    assert other_field.status_code == 400

    again = call(emu, "POST", token, f"/subscriptions/{sid}/reauthorize")
    assert again.status_code == 204 and again.content == b""

    gone = call(emu, "DELETE", token, f"/subscriptions/{sid}")
    assert gone.status_code == 204
    missing = call(emu, "GET", token, f"/subscriptions/{sid}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"
    assert call(emu, "DELETE", token, f"/subscriptions/{sid}").status_code == 404
    assert emu.subscriptions() == []


def test_someone_elses_subscription_looks_missing(emu, receiver, owner, other):
    mine = token_for(emu, owner["email"])
    sid = subscribe(emu, mine, receiver).json()["id"]
    theirs = token_for(emu, other["email"])
    another_app = token_for(emu, owner["email"], client_id="11111111-2222-3333-4444-555555555555")
    for token in (theirs, another_app):
        for method, path, body in (("GET", f"/subscriptions/{sid}", None),
                                   ("PATCH", f"/subscriptions/{sid}",
                                    {"expirationDateTime": stamp_in(emu, 60)}),
                                   ("POST", f"/subscriptions/{sid}/reauthorize", None),
                                   ("DELETE", f"/subscriptions/{sid}", None)):
            r = call(emu, method, token, path, body)
            assert r.status_code == 404, (method, r.text)
            assert r.json()["error"]["code"] == "ResourceNotFound"
        assert call(emu, "GET", token, "/subscriptions").json()["value"] == []
    assert [s["id"] for s in emu.subscriptions()] == [sid]


def test_unknown_subscription_is_404(emu, owner):
    r = call(emu, "GET", token_for(emu, owner["email"]), "/subscriptions/no-such-id")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"
