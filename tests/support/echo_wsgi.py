"""A WSGI app that answers 200 to anything: for testing the web process's gunicorn settings."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
