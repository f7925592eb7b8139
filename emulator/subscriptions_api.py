"""Graph /v1.0/subscriptions: create (with the validation handshake), list, get, renew, delete,
reauthorize (docs/microsoft-graph.md §9). Delivery is notifier.py's.

A subscription belongs to the app and the person whose token created it; any other caller gets
404, as if it did not exist.
"""
from __future__ import annotations

from flask import Response, request

from . import subscriptions
from .graph_api import base, bp
from .graph_core import GraphError, graph_call, json_response, state

VALIDATION_FAILED = {
    "wrong token": "Subscription validation request failed. Response must exactly match "
                   "validationToken query parameter.",
    "not text/plain": "Subscription validation request failed. Response must be the "
                      "validationToken as text/plain.",
}
NO_ANSWER = ("Subscription validation request failed. Notification endpoint must respond with "
             "200 OK to validation request.")


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    return data


def validate(url: str) -> None:
    """The handshake, from this request's thread: the create call waits for it (§9)."""
    st = state()
    result = st.notifier.webhooks.validate(url)
    st.notifier.record("validation", url, [], 0, 1, result.status, result.outcome)
    if not result.ok:
        raise GraphError(400, "ValidationError", VALIDATION_FAILED.get(result.outcome, NO_ANSWER))


def owned(caller, sub_id: str):
    sub = state().notifier.get(sub_id)
    if sub is None or sub.client_id != caller.token.client_id or sub.oid != caller.user.oid:
        raise GraphError(404, "ResourceNotFound", f"The object was not found. Subscription "
                         f"'{sub_id}' does not exist or belongs to someone else.")
    return sub


def entity(sub, with_state: bool = False) -> dict:
    return {"@odata.context": f"{base()}/$metadata#subscriptions/$entity",
            **sub.graph_json(with_state)}


@bp.post("/subscriptions")
@graph_call("calendar")
def create_subscription(caller):
    st = state()
    sub = subscriptions.new_subscription(json_body(), caller, st.world, st.clock.now())
    validate(sub.notification_url)
    if sub.lifecycle_url:
        validate(sub.lifecycle_url)
    st.notifier.add(sub)
    return json_response(entity(sub, with_state=True), 201)


@bp.get("/subscriptions")
@graph_call("calendar")
def list_subscriptions(caller):
    mine = state().notifier.owned_by(caller.token.client_id, caller.user.oid)
    return json_response({"@odata.context": f"{base()}/$metadata#subscriptions",
                          "value": [s.graph_json() for s in mine]})


@bp.get("/subscriptions/<sub_id>")
@graph_call("calendar")
def get_subscription(caller, sub_id):
    return json_response(entity(owned(caller, sub_id)))


@bp.patch("/subscriptions/<sub_id>")
@graph_call("calendar")
def renew_subscription(caller, sub_id):
    sub = owned(caller, sub_id)
    data = json_body()
    other = sorted(set(data) - {"expirationDateTime", "@odata.type"})
    if other:
        raise subscriptions.invalid(f"Only expirationDateTime can be updated, not {other[0]}.")
    st = state()
    expires = subscriptions.parse_expiry(data.get("expirationDateTime"), st.clock.now())
    st.notifier.renew(sub, expires, caller.token)
    return json_response(entity(sub))


@bp.delete("/subscriptions/<sub_id>")
@graph_call("calendar")
def delete_subscription(caller, sub_id):
    state().notifier.remove(owned(caller, sub_id).id)
    return Response(status=204)


@bp.post("/subscriptions/<sub_id>/reauthorize")
@graph_call("calendar")
def reauthorize_subscription(caller, sub_id):
    state().notifier.reauthorize(owned(caller, sub_id), caller.token)
    return Response(status=204)
