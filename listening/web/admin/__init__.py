"""The HR admin's pages, all under /admin, in one blueprint behind one guard.

``bp`` has the guard (signed in, and an HR admin: listening/web/security.py) as its
``before_request``, so no view can forget it; tests/integration/test_hr_access.py walks the
URL map and checks every /admin route. A module that adds admin pages registers its views
on ``bp``, is imported at the end of this file, and lists its pages in the navigation with
``nav.add_admin_page`` (admin/api.py does both).
"""
from __future__ import annotations

from flask import Blueprint

from listening.web import security

bp = Blueprint("admin", __name__, url_prefix="/admin")
security.guarded_blueprint(bp, security.admin_guard)

# The views register themselves on ``bp`` (imported last: they import ``bp`` from here).
from listening.web.admin import api, audit, consent, directory, people, settings  # noqa: E402,F401
