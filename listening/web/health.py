"""GET /healthz for load balancers: do the database and Redis answer?

It never loads the signed-in person (listening/web/security.py skips this blueprint)
and never uses the request's Session: a probe that carries a session cookie answers
exactly as one without.
"""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from listening.web import deps

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    services = deps.services()
    checks = {}
    try:
        with services.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        services.jobs.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if healthy else 503
