"""The app and its Services, as every test and benchmark builds them."""
from __future__ import annotations


def services_of(app):
    """The Services the app was built with (listening/services.py)."""
    return app.extensions["listening"]
