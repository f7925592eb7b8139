"""The OpenAPI document: valid OpenAPI 3.1 (openapi-spec-validator), every documented status
code produced for real, and schemathesis run against the app served on a loopback port with a
seeded organization (no 500, every response as documented)."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode

from listening.core.models import OneOnOne, OneOnOneStatus
from tests.integration import api_helpers as a
from tests.support.loopback import LoopbackServer

OPERATIONS = {("/api/v1/one-on-ones", "get"), ("/api/v1/one-on-ones/{one_on_one_id}", "get"),
              ("/api/v1/people", "get")}


def _spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi_3_1_and_documents_errors_and_limits(client):
    spec = _spec(client)
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    found = {(path, method) for path, item in spec["paths"].items() for method in item if method != "parameters"}
    assert found == OPERATIONS
    for path, method in OPERATIONS:
        responses = spec["paths"][path][method]["responses"]
        for status in ("401", "403", "422", "429"):
            assert "application/problem+json" in responses[status]["content"], (path, status)
        assert {"RateLimit", "RateLimit-Policy"} <= set(responses["429"]["headers"])
        assert {"RateLimit", "RateLimit-Policy"} <= set(responses["200"]["headers"])
        assert spec["paths"][path][method]["security"] == [{"bearerAuth": []}]
    assert "ETag" in spec["paths"]["/api/v1/one-on-ones"]["get"]["responses"]["200"]["headers"]
    shown = spec["components"]["schemas"]["OneOnOne"]["properties"]
    assert set(shown) == {"id", "manager", "report", "cadence", "status", "attached_since", "changed_at"}


@pytest.mark.parametrize("app_overrides", [{"api_rate_limit": "4/minute"}], indirect=True)
def test_every_documented_status_code_is_real(app, client, session):
    seeded = a.seeded(app, session, client)
    org_id = seeded.team.org.id
    spec = _spec(client)
    one = f"/api/v1/one-on-ones/{seeded.one_on_ones[0]}"
    requests_for = {
        ("/api/v1/one-on-ones", "200"): "/api/v1/one-on-ones",
        ("/api/v1/one-on-ones", "400"): "/api/v1/one-on-ones?cursor=x",
        ("/api/v1/one-on-ones", "422"): "/api/v1/one-on-ones?limit=0",
        ("/api/v1/one-on-ones/{one_on_one_id}", "200"): one,
        ("/api/v1/one-on-ones/{one_on_one_id}", "404"): "/api/v1/one-on-ones/99999",
        ("/api/v1/one-on-ones/{one_on_one_id}", "422"): one + "?start=nonsense",
        ("/api/v1/people", "200"): "/api/v1/people",
        ("/api/v1/people", "400"): "/api/v1/people?cursor=x",
        ("/api/v1/people", "422"): "/api/v1/people?active=perhaps",
    }
    seen = set()
    for (path, status), url in requests_for.items():
        response = client.get(url, headers=a.bearer(a.new_key(session, org_id, "one_on_ones:read", "directory:read")))
        assert str(response.status_code) == status, (url, response.get_data(as_text=True))
        seen.add((path, status))
        if status == "200" and "ETag" in response.headers:
            again = client.get(url, headers={**a.bearer(a.new_key(session, org_id, "one_on_ones:read",
                                                                 "directory:read")),
                                             "If-None-Match": response.headers["ETag"]})
            assert again.status_code == 304
            seen.add((path, "304"))
    for path in ("/api/v1/one-on-ones", one, "/api/v1/people"):
        template = "/api/v1/one-on-ones/{one_on_one_id}" if path == one else path
        assert client.get(path).status_code == 401
        wrong = a.new_key(session, org_id, "directory:read" if "one-on-ones" in path else "one_on_ones:read")
        assert client.get(path, headers=a.bearer(wrong)).status_code == 403
        limited = a.new_key(session, org_id, "one_on_ones:read", "directory:read")
        codes = [client.get(path, headers=a.bearer(limited)).status_code for _ in range(5)]
        assert codes[-1] == 429
        seen |= {(template, "401"), (template, "403"), (template, "429")}
    documented = {(path, status) for path, item in spec["paths"].items()
                  for status in item["get"]["responses"] if status != "default"}  # any 5xx
    assert all("application/problem+json" in spec["components"]["responses"][r["$ref"].rsplit("/", 1)[-1]]["content"]
               for item in spec["paths"].values() for r in [item["get"]["responses"]["default"]])
    assert documented == seen


@pytest.fixture
def served(app):
    server = LoopbackServer(app, "app-server")
    yield server
    server.close()


# Schemathesis sends many requests without a valid key on purpose: neither limit may cut it short.
@pytest.mark.parametrize("app_overrides", [{"api_rate_limit": "100000/minute",
                                           "api_key_failure_limit": "100000/minute"}], indirect=True)
def test_schemathesis_finds_nothing_against_the_running_app(app, client, session, served):
    seeded = a.seeded(app, session, client)
    session.execute(OneOnOne.__table__.update().where(OneOnOne.id == seeded.one_on_ones[1])
                    .values(status=OneOnOneStatus.needs_attention))
    session.commit()
    secret = a.new_key(session, seeded.team.org.id, "one_on_ones:read", "directory:read")
    schema = schemathesis.openapi.from_url(served.url + "/api/v1/openapi.json")
    schema.config.update(base_url=served.url)

    @schema.auth()
    class ApiKey:  # schemathesis adds it, and takes it away to check that 401 is enforced
        def get(self, case, context):
            return secret

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 3
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if operation.path.endswith("{one_on_one_id}") and mode is GenerationMode.POSITIVE:
                strategy = operation.as_strategy(generation_mode=mode,
                                                 path_parameters={"one_on_one_id": seeded.one_on_ones[0]})

            @given(case=strategy)
            @settings(max_examples=100, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                response = case.call_and_validate()
                statuses.setdefault(operation.path, set()).add(response.status_code)

            check()
    assert all(code < 500 for codes in statuses.values() for code in codes), statuses
    assert 200 in statuses["/api/v1/one-on-ones"] and 200 in statuses["/api/v1/people"]
