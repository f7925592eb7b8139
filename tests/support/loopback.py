"""A WSGI app served over loopback for a test: a threaded werkzeug server on a free port of
127.0.0.1, run by a daemon thread, with no line logged per request. The webhook and
notification receivers are built on it, and the app is served by it for schemathesis."""
from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class LoopbackServer:
    def __init__(self, wsgi, name: str = "loopback-server"):
        self.server = make_server("127.0.0.1", 0, wsgi, threaded=True, request_handler=QuietHandler)
        self.server.daemon_threads = True  # a request held open must not keep the run alive
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True, name=name)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
