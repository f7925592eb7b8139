"""WSGI entry point: gunicorn wsgi:app (see Procfile)."""
from listening import create_app

app = create_app()
