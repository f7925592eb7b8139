"""The HR admin's pages, all under /admin, behind one guard.

Every blueprint under /admin is made by ``blueprint()``, which installs the guard
(signed in, and an HR admin: listening/web/security.py) as its ``before_request``,
so no view can forget it; tests/integration/test_hr_access.py walks the URL map
and checks every /admin route. A module that adds admin pages makes its own with
``blueprint("admin_things", __name__)`` (listening/web/__init__.py registers every
blueprint made so), imports itself at the end of this file, and lists its pages in the
navigation with ``nav.add_admin_page`` (admin/api.py does all three).
"""
from __future__ import annotations

from flask import Blueprint

from listening.web import security

PREFIX = "/admin"
BLUEPRINTS: list[Blueprint] = []  # every blueprint under /admin, each guarded


def blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint under /admin whose every view is for HR admins only."""
    bp = Blueprint(name, import_name, url_prefix=PREFIX)
    security.guarded_blueprint(bp, security.admin_guard)
    BLUEPRINTS.append(bp)
    return bp


bp = blueprint("admin", __name__)

# The views register themselves on ``bp`` (imported last: they import ``bp`` from here).
from listening.web.admin import api, audit, consent, directory, people, settings  # noqa: E402,F401
