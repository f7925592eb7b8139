"""One real stack per browser test module: the app on a werkzeug server, the emulator with the
demo company (its callbacks registered for the app's port), the demo's directory, and an RQ
worker process (the Procfile's command) that runs the syncs the pages start.

Pages are driven in Debian's Chromium through Playwright; each page of each journey is checked
by axe-core (the copy that axe-playwright-python ships: nothing is fetched at test time) for
WCAG 2.1 A and AA at a desktop and a phone width, and must fit a 390 px screen.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
KEYS = os.environ.get("TEST_KEYS", "k1:" + "A" * 43 + "=")


class _Later:
    """A WSGI app filled in after the server exists (the emulator needs the port first)."""
    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@dataclass
class Stack:
    app: object
    emu: object
    base: str


def _worker(env: dict, log: Path) -> subprocess.Popen:
    rq = Path(sys.executable).parent / "rq"
    return subprocess.Popen(
        [str(rq), "worker", "--worker-class", "rq.SimpleWorker", "-c", "jobs.rq_settings"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # RQ's warm shutdown: the job in hand finishes
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def stack(database_url, redis_url, key_prefix, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    from werkzeug.serving import make_server

    from emulator.app import CALLBACK_PATHS, DEFAULT_CLIENT_ID, DEFAULT_SECRET
    from emulator.testing import QuietHandler, running_emulator
    from emulator.tokens import Client
    from listening import create_app
    from tests.support.apps import clean, services_of
    from tools.demo_stack import load_directory

    instance = tmp_path_factory.mktemp("browser")
    later = _Later()
    server = make_server("127.0.0.1", 0, later, threaded=True, request_handler=QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    client = Client(DEFAULT_CLIENT_ID, DEFAULT_SECRET, [base + path for path in CALLBACK_PATHS])
    with running_emulator(seed="demo", control=True, clients=[client]) as emu:
        settings = {"database_url": database_url, "redis_url": redis_url, "queue_prefix": key_prefix,
                    "ms_authority": emu.url, "graph_url": emu.url + "/v1.0", "instance_path": instance,
                    "secret_key": "browser-test", "keys": KEYS}
        later.app = app = create_app(settings)
        load_directory(services_of(app), emu.users())  # as the demo does: "HR" titles are HR admins
        env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, QUEUE_PREFIX=key_prefix,
                   MS_AUTHORITY=emu.url, GRAPH_URL=emu.url + "/v1.0", LISTENING_KEYS=KEYS,
                   SECRET_KEY="browser-test", LISTENING_INSTANCE=str(instance), PYTHONPATH=str(ROOT),
                   PYTHONUNBUFFERED="1")
        worker = _worker(env, instance / "worker.log")
        thread = threading.Thread(target=server.serve_forever, daemon=True, name="app-server")
        thread.start()
        try:
            yield Stack(app, emu, base)
        finally:
            _stop(worker)
            server.shutdown()
            server.server_close()
            clean(app, key_prefix)


@pytest.fixture(scope="module")
def browser(stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser):
    """``new_page(viewport=DESKTOP, javascript=True)``: a page in a browser context of its own
    (its own cookies: one person each). Anything a page tried that the Content-Security-Policy
    refused fails the test: the policy allows no inline script or style."""
    contexts, refused = [], []

    def make(viewport=DESKTOP, javascript=True):
        context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20000)
        page.on("console", lambda m: refused.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text else None)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not refused, f"refused by the Content-Security-Policy: {refused[:3]}"


def wait_until(condition, timeout: float = 20.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False
