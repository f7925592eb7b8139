"""gunicorn settings for the web process: ``gunicorn -c python:listening.web.gunicorn_conf wsgi:app``
(the Procfile and the demo). The access log goes to stdout unless --access-logfile says
otherwise, through a logger that keeps secrets out of it (listening/web/access_log.py)."""
logger_class = "listening.web.access_log.AccessLogger"
accesslog = "-"
