"""GET /healthz for load balancers: do the database and Redis answer?"""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from listening.web import deps

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks = {}
    try:
        deps.session().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        deps.services().jobs.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if healthy else 503
